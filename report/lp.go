package report

import (
	"errors"
	"fmt"
)

// ErrInconsistent is returned by Audit when the published values contradict
// each other (a published total that is not the sum of its published parts,
// or no non-negative completion of the hidden entries).
var ErrInconsistent = errors.New("report: published values are inconsistent")

// linear is the auditor's problem: variables y ≥ 0 and equalities a·y = b
// with b ≥ 0.
type linear struct {
	nv int
	a  [][]int64
	b  []int64
}

// bound is the range of one variable over the feasible set.
type bound struct {
	lo, hi    int64 // lo = ⌈min⌉, hi = ⌊max⌋ (hi meaningless when unbounded)
	unbounded bool
	// partial: lo and hi are values seen at feasible points, not the
	// extremes, which is enough to know that the range is at least
	// hi − lo wide (see ranges' width).
	partial bool
}

// ranges returns, for every variable, its minimum and maximum over the
// polyhedron, computed exactly by the simplex method on rationals (Bland's
// rule, so degenerate tables cannot make it cycle). It first tries int64
// rationals and starts over with math/big on overflow.
//
// With width > 0, a variable already seen at two feasible points whose
// values, rounded inwards, are at least width apart is not optimised: its
// bound is those values, marked partial. The vertices the simplex visits
// for one variable show most others to vary, which saves most of the
// linear programs when only the question "narrower than width?" matters.
func (p linear) ranges(width int64) ([]bound, error) {
	res, err := func() (res []bound, err error) {
		defer func() {
			if x := recover(); x != nil {
				if _, ok := x.(overflowError); !ok {
					panic(x)
				}
				res, err = nil, errOverflowRetry
			}
		}()
		return rangesWith(p, q64of, width)
	}()
	if errors.Is(err, errOverflowRetry) {
		return rangesWith(p, bigQof, width)
	}
	return res, err
}

var errOverflowRetry = errors.New("int64 overflow")

type simplex[T scalar[T]] struct {
	tab   [][]T // rows × cols
	rhs   []T
	basis []int
	cols  int
	zero  T
	nz    []int // scratch for pivot
}

func rangesWith[T scalar[T]](p linear, of func(int64) T, width int64) ([]bound, error) {
	m, nv := len(p.a), p.nv
	s := &simplex[T]{cols: nv + m, zero: of(0), basis: make([]int, m), rhs: make([]T, m), tab: make([][]T, m)}
	for r := range m {
		row := make([]T, nv+m)
		for j := range row {
			row[j] = s.zero
		}
		for j := range nv {
			if p.a[r][j] != 0 {
				row[j] = of(p.a[r][j])
			}
		}
		row[nv+r] = of(1)
		s.tab[r] = row
		s.rhs[r] = of(p.b[r])
		s.basis[r] = nv + r
	}

	// Phase 1: minimise the sum of the artificial variables.
	cost := make([]T, nv+m)
	for j := range cost {
		cost[j] = s.zero
		if j >= nv {
			cost[j] = of(1)
		}
	}
	s.minimise(cost, nil)
	for r := range s.rhs {
		if s.basis[r] >= nv && s.rhs[r].sign() != 0 {
			return nil, ErrInconsistent
		}
	}
	// Drive the artificials left at zero out of the basis; a row where that
	// is impossible is a redundant equation (a table's row and column sums
	// always contain one) and goes.
	for r := 0; r < len(s.rhs); r++ {
		if s.basis[r] < nv {
			continue
		}
		e := -1
		for j := range nv {
			if s.tab[r][j].sign() != 0 {
				e = j
				break
			}
		}
		if e < 0 {
			s.tab = append(s.tab[:r], s.tab[r+1:]...)
			s.rhs = append(s.rhs[:r], s.rhs[r+1:]...)
			s.basis = append(s.basis[:r], s.basis[r+1:]...)
			r--
			continue
		}
		s.pivot(r, e)
	}
	for r := range s.tab {
		s.tab[r] = s.tab[r][:nv]
	}
	s.cols = nv

	// Phase 2: from the feasible basis, minimise then maximise each variable.
	out := make([]bound, nv)
	cost = cost[:nv]
	var seenLo, seenHi, cur []T
	seen := func() { // widen each variable's seen range with the current vertex
		for j := range cur {
			cur[j] = s.zero
		}
		for r, j := range s.basis {
			cur[j] = s.rhs[r]
		}
		for j, v := range cur {
			if v.cmp(seenLo[j]) < 0 {
				seenLo[j] = v
			}
			if v.cmp(seenHi[j]) > 0 {
				seenHi[j] = v
			}
		}
	}
	if width > 0 {
		cur = make([]T, nv)
		seenLo, seenHi = make([]T, nv), make([]T, nv)
		for j := range nv {
			seenLo[j], seenHi[j] = s.value(j), s.value(j)
		}
	}
	if width > 0 {
		seen()
	}
	// proven reports whether k has been seen at values width apart.
	proven := func(k int) (bound, bool) {
		lo, ok1 := seenLo[k].ceil()
		hi, ok2 := seenHi[k].floor()
		if ok1 && ok2 && hi-lo >= width {
			return bound{lo: lo, hi: hi, partial: true}, true
		}
		return bound{}, false
	}
	for k := range nv {
		// With a width, an optimisation stops as soon as the vertex
		// reached proves k wide enough: the optimum itself is not needed.
		var stop func() bool
		if width > 0 {
			if b, ok := proven(k); ok {
				out[k] = b
				continue
			}
			stop = func() bool {
				v := s.value(k)
				if v.cmp(seenLo[k]) < 0 {
					seenLo[k] = v
				}
				if v.cmp(seenHi[k]) > 0 {
					seenHi[k] = v
				}
				_, ok := proven(k)
				return ok
			}
		}
		for j := range cost {
			cost[j] = s.zero
		}
		cost[k] = of(1)
		if s.minimise(cost, stop) {
			return nil, fmt.Errorf("minimum unbounded below for a non-negative variable: %w", ErrInconsistent)
		}
		if width > 0 {
			seen()
			if b, ok := proven(k); ok {
				out[k] = b
				continue
			}
		}
		lo, ok := s.value(k).ceil()
		if !ok {
			return nil, fmt.Errorf("bound out of range: %w", ErrInconsistent)
		}
		cost[k] = of(-1)
		if s.minimise(cost, stop) {
			out[k] = bound{lo: lo, unbounded: true}
			continue
		}
		if width > 0 {
			seen()
			if b, ok := proven(k); ok {
				out[k] = b
				continue
			}
		}
		hi, ok := s.value(k).floor()
		if !ok {
			out[k] = bound{lo: lo, unbounded: true}
			continue
		}
		out[k] = bound{lo: lo, hi: hi}
	}
	return out, nil
}

// value is the current value of variable k.
func (s *simplex[T]) value(k int) T {
	for r, b := range s.basis {
		if b == k {
			return s.rhs[r]
		}
	}
	return s.zero
}

// minimise runs the primal simplex for cost from the current feasible basis
// and reports whether the objective is unbounded below. A non-nil stop is
// asked after each pivot whether the current vertex is good enough.
func (s *simplex[T]) minimise(cost []T, stop func() bool) (unbounded bool) {
	d := make([]T, s.cols)
	copy(d, cost)
	for r, b := range s.basis {
		cb := cost[b]
		if cb.sign() == 0 {
			continue
		}
		for j, v := range s.tab[r] {
			if v.sign() != 0 {
				d[j] = d[j].sub(cb.mul(v))
			}
		}
	}
	for {
		e := -1
		for j, v := range d {
			if v.sign() < 0 {
				e = j // Bland: the entering variable of smallest index
				break
			}
		}
		if e < 0 {
			return false
		}
		lr := -1
		var best T
		for r, row := range s.tab {
			if row[e].sign() <= 0 {
				continue
			}
			ratio := s.rhs[r].quo(row[e])
			if lr < 0 {
				lr, best = r, ratio
				continue
			}
			if c := ratio.cmp(best); c < 0 || (c == 0 && s.basis[r] < s.basis[lr]) {
				lr, best = r, ratio
			}
		}
		if lr < 0 {
			return true
		}
		nz := s.pivot(lr, e)
		if de := d[e]; de.sign() != 0 {
			prow := s.tab[lr]
			for _, j := range nz {
				if j < len(d) {
					d[j] = d[j].sub(de.mul(prow[j]))
				}
			}
		}
		if stop != nil && stop() {
			return false
		}
	}
}

// pivot makes variable e basic in row lr and returns the columns where the
// new pivot row is not zero; only those change in the other rows, which
// keeps pivots cheap on the sparse rows of table systems.
func (s *simplex[T]) pivot(lr, e int) []int {
	prow := s.tab[lr]
	pv := prow[e]
	nz := s.nz[:0]
	for j, v := range prow {
		if v.sign() != 0 {
			prow[j] = v.quo(pv)
			nz = append(nz, j)
		}
	}
	s.nz = nz
	s.rhs[lr] = s.rhs[lr].quo(pv)
	for r, row := range s.tab {
		if r == lr {
			continue
		}
		f := row[e]
		if f.sign() == 0 {
			continue
		}
		for _, j := range nz {
			row[j] = row[j].sub(f.mul(prow[j]))
		}
		s.rhs[r] = s.rhs[r].sub(f.mul(s.rhs[lr]))
	}
	s.basis[lr] = e
	return nz
}
