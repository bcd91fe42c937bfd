// Command sinbagen writes package sinba's codes_gen.go from SINBA.xsd and
// prestazioni-siuss.csv; run it with go generate in activity/sinba.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/toscana/sirm/activity/sinba/internal/gen"
)

func main() {
	xsd := flag.String("xsd", "schema/SINBA.xsd", "the SINBA schema")
	csv := flag.String("csv", "schema/prestazioni-siuss.csv", "the SIUSS service codes")
	out := flag.String("out", "codes_gen.go", "the file to write")
	flag.Parse()
	if err := run(*xsd, *csv, *out); err != nil {
		fmt.Fprintln(os.Stderr, "sinbagen:", err)
		os.Exit(1)
	}
}

func run(xsdPath, csvPath, outPath string) error {
	xsd, err := os.ReadFile(xsdPath)
	if err != nil {
		return err
	}
	csv, err := os.ReadFile(csvPath)
	if err != nil {
		return err
	}
	src, err := gen.Generate(xsd, csv)
	if err != nil {
		return err
	}
	return os.WriteFile(outPath, src, 0o644)
}
