package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
)

// Output formats.
const (
	outputJSON  = "json"
	outputTable = "table"
)

// print writes v as JSON, or rows as a table with --output table.
func (a *app) print(v any, rows [][]string) error {
	if a.output == outputTable {
		return a.printTable(rows)
	}
	return a.printJSON(v)
}

// printTable writes rows as aligned columns, the first row a header.
func (a *app) printTable(rows [][]string) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// printJSON writes v to stdout as indented JSON.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
