package linkbench

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/toscana/sirm/linkage"
)

// FEBRLPolicy is the validation policy of the FEBRL benchmarks: adults
// born in the twentieth century, so no age limit, and a fixed today.
var FEBRLPolicy = linkage.Policy{
	MaxAgeYears: 0,
	Now:         func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
}

// LoadFEBRL4 reads FEBRL 4's two files — a holds rec-N-org, b holds
// rec-N-dup-0 — into one data set, a's records first, as the benchmark
// resolves A then B.
func LoadFEBRL4(a, b string) (Dataset, error) {
	ds := Dataset{Name: "febrl4", Policy: FEBRLPolicy}
	var stats febrlStats
	for _, f := range []struct{ path, source string }{{a, "A"}, {b, "B"}} {
		fh, err := os.Open(f.path)
		if err != nil {
			return Dataset{}, fmt.Errorf("load febrl: %w", err)
		}
		recs, err := parseFEBRL(fh, f.source, &stats)
		fh.Close()
		if err != nil {
			return Dataset{}, fmt.Errorf("load febrl %s: %w", f.path, err)
		}
		ds.Records = append(ds.Records, recs...)
	}
	ds.Notes = append(stats.notes(), ComputeCeiling(ds).String())
	return ds, nil
}

// ParseFEBRL reads one FEBRL file (rec_id, given_name, surname,
// street_number, address_1, address_2, suburb, postcode, state,
// date_of_birth, soc_sec_id) and maps each row to an identity:
//
//   - the truth is N of rec-N-org and rec-N-dup-K;
//   - given_name and surname as they are; sex X (FEBRL has none); no codice
//     fiscale; soc_sec_id unused;
//   - date_of_birth YYYYMMDD becomes YYYY-MM-DD. A date that is missing or
//     not a real date is left empty: the service refuses the record, which
//     reaches no person, so its pair counts as not found. That is what a
//     registry would do with it, and it keeps the recall honest;
//   - residence: postcode and suburb. Australian postcodes have 4 digits
//     and linkage takes a 5-digit CAP, so a 4-digit postcode is padded
//     with a leading 0 (the same on both sides, so equality is kept);
//     another postcode, or a suburb that does not validate as a locality,
//     is left out, since residence is auxiliary and must not cost the
//     record.
//
// The returned notes count what was adjusted.
func ParseFEBRL(r io.Reader, source string) ([]Record, []string, error) {
	var st febrlStats
	recs, err := parseFEBRL(r, source, &st)
	return recs, st.notes(), err
}

type febrlStats struct {
	rows, badDate, badPostcode, badLocality, noName int
}

func (s febrlStats) notes() []string {
	return []string{
		fmt.Sprintf("%d records read", s.rows),
		fmt.Sprintf("%d with a missing or invalid birth date: refused by validation, counted as not found", s.badDate),
		fmt.Sprintf("%d with a missing surname or given name: refused by validation, counted as not found", s.noName),
		fmt.Sprintf("%d with a postcode that is not 4 digits: residence postcode left out", s.badPostcode),
		fmt.Sprintf("%d with a suburb that is not a valid locality: residence locality left out", s.badLocality),
	}
}

func parseFEBRL(r io.Reader, source string, st *febrlStats) ([]Record, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, c := range []string{"rec_id", "given_name", "surname", "suburb", "postcode", "date_of_birth"} {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("no column %s", c)
		}
	}
	var out []Record
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		get := func(c string) string { return strings.TrimSpace(row[col[c]]) }
		truth, ok := febrlTruth(get("rec_id"))
		if !ok {
			return nil, fmt.Errorf("line %d: rec_id is not rec-N-org or rec-N-dup-K", line)
		}
		st.rows++
		id := linkage.Identity{
			GivenNames: get("given_name"),
			Surname:    get("surname"),
			Sex:        "X",
			BirthDate:  febrlDate(get("date_of_birth")),
		}
		if id.BirthDate == "" {
			st.badDate++
		}
		if id.GivenNames == "" || id.Surname == "" {
			st.noName++
		}
		if pc := get("postcode"); len(pc) == 4 && strings.Trim(pc, "0123456789") == "" {
			id.Residence.Postcode = "0" + pc
		} else {
			st.badPostcode++
		}
		if loc := get("suburb"); loc != "" {
			probe := linkage.Identity{Surname: "X", GivenNames: "X", BirthDate: "2000-01-01", Sex: "X",
				Residence: linkage.Residence{Locality: loc}}
			if _, err := linkage.Normalize(probe, linkage.Policy{}); err == nil {
				id.Residence.Locality = loc
			} else {
				st.badLocality++
			}
		}
		out = append(out, Record{Truth: truth, Source: source, Identity: id})
	}
}

// febrlTruth returns N of rec-N-org and rec-N-dup-K.
func febrlTruth(recID string) (string, bool) {
	parts := strings.Split(recID, "-")
	if len(parts) < 3 || parts[0] != "rec" || parts[1] == "" {
		return "", false
	}
	switch {
	case len(parts) == 3 && parts[2] == "org":
	case len(parts) == 4 && parts[2] == "dup":
	default:
		return "", false
	}
	return parts[1], true
}

// febrlDate turns YYYYMMDD into YYYY-MM-DD, or "" when it is not a real
// date.
func febrlDate(s string) string {
	d, err := time.Parse("20060102", s)
	if err != nil || len(s) != 8 {
		return ""
	}
	return d.Format(time.DateOnly)
}
