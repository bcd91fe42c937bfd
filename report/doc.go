// Package report holds the pure part of sirm's surveys: statistical tables
// with marginal totals, statistical disclosure control (primary and secondary
// cell suppression) with an independent auditor that proves no suppressed
// cell can be recomputed from what is published, the classifications the
// surveys use (age classes, citizenship groups, sex) and the k-anonymity check
// that guards research microdata.
//
// Nothing here touches a database or HTTP: the SQL-backed code fills a Table
// with counts computed in PostgreSQL, calls Protect, and hands the table to a
// renderer in report/render. Renderers read a table only through
// Table.Published, so a suppressed value has no path to the output.
package report
