package tests

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type facility struct {
	Code             string `json:"code"`
	DraftRef         string `json:"draft_ref"`
	Version          int    `json:"version"`
	Status           string `json:"status"`
	Name             string `json:"name"`
	Zone             string `json:"zone"`
	AuthorisedPlaces int    `json:"authorised_places"`
	OccupiedPlaces   *int   `json:"occupied_places"`
}

// TestRegistryDemo: `sirm demo facilities` seeds the registry `make run`
// serves (once), and the README's registry tour works against it.
func TestRegistryDemo(t *testing.T) {
	in := newInstance(t)
	in.start()
	out := in.sirm("demo", "facilities")
	assert.Contains(t, out, "loaded 183 demo facilities")
	assert.Contains(t, in.sirm("demo", "facilities"), "nothing loaded")

	analyst := in.devToken("region_analyst", "REGIONE")
	r := in.get("/v1/facilities?zone=FIORENTINA&limit=5", analyst)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var page struct {
		Facilities []facility `json:"facilities"`
		NextCursor string     `json:"next_cursor"`
	}
	r.json(t, &page)
	require.Len(t, page.Facilities, 5)
	assert.NotEmpty(t, page.NextCursor)
	for _, f := range page.Facilities {
		assert.Equal(t, "FIORENTINA", f.Zone)
		assert.Equal(t, "active", f.Status)
		// Occupied places come live from ASMI stays.
		if assert.NotNil(t, f.OccupiedPlaces) {
			assert.GreaterOrEqual(t, *f.OccupiedPlaces, 0)
		}
	}
	r = in.get("/v1/facilities?as_of=2020-12-31&q=comunit", analyst)
	require.Equal(t, http.StatusOK, r.status, string(r.body))

	// The facility operator of `make run` edits its own facility.
	op := in.devToken("facility_operator", "ASSO-000001")
	r = in.get("/v1/facilities/ASSO-000001", op)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	etag := r.header.Get("ETag")
	require.NotEmpty(t, etag)
	req := func(tag string) response {
		rq, err := http.NewRequest(http.MethodPatch, in.url("/v1/facilities/ASSO-000001"), strings.NewReader(`{"contacts":{"phone":"055 000111"}}`))
		require.NoError(t, err)
		rq.Header.Set("Authorization", "Bearer "+op)
		rq.Header.Set("Content-Type", "application/merge-patch+json")
		rq.Header.Set("If-Match", tag)
		resp, err := http.DefaultClient.Do(rq)
		require.NoError(t, err)
		defer resp.Body.Close()
		return response{status: resp.StatusCode, header: resp.Header}
	}
	assert.Equal(t, http.StatusOK, req(etag).status)
	assert.Equal(t, http.StatusPreconditionFailed, req(etag).status, "the same ETag again is stale")
	r = in.get("/v1/facilities/ASSO-000001/history", op)
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), `"change":"edit"`)
}
