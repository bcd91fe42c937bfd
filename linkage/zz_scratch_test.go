package linkage_test

import (
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/toscana/sirm/internal/linkbench"
	"github.com/toscana/sirm/linkage"
)

func TestZZScratch(t *testing.T) {
	ds, _ := linkbench.LoadFEBRL4(febrlDir+"/dataset4a.csv", febrlDir+"/dataset4b.csv")
	enc, _ := linkage.NewBloomEncoder([]byte("0123456789abcdef0123456789abcdef"))
	by := map[string][]linkbench.Record{}
	for _, r := range ds.Records {
		by[r.Truth] = append(by[r.Truth], r)
	}
	type row struct {
		s    float64
		line string
	}
	var rows []row
	invalid := 0
	for _, rs := range by {
		a, b := rs[0], rs[1]
		na, ea := linkage.Normalize(a.Identity, ds.Policy)
		nb, eb := linkage.Normalize(b.Identity, ds.Policy)
		if ea != nil || eb != nil {
			invalid++
			rows = append(rows, row{-1, fmt.Sprintf("INVALID %q %q %q %v | %q %q %q %v", a.Identity.GivenNames, a.Identity.Surname, a.Identity.BirthDate, ea != nil, b.Identity.GivenNames, b.Identity.Surname, b.Identity.BirthDate, eb != nil)})
			continue
		}
		x, y := enc.Encode(na), enc.Encode(nb)
		s, ev := linkage.Score(&x, &y, nil, nil, "X", "X")
		rows = append(rows, row{s, fmt.Sprintf("%.3f %v | %s/%s/%s/%s/%s | %s/%s/%s/%s/%s", s, ev.Fields, a.Identity.GivenNames, a.Identity.Surname, a.Identity.BirthDate, a.Identity.Residence.Postcode, a.Identity.Residence.Locality, b.Identity.GivenNames, b.Identity.Surname, b.Identity.BirthDate, b.Identity.Residence.Postcode, b.Identity.Residence.Locality)})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].s < rows[j].s })
	f, _ := os.Create("/tmp/scr/pairs.txt")
	for _, r := range rows {
		fmt.Fprintln(f, r.line)
	}
	f.Close()
	t.Log("invalid pairs", invalid)
}
