package report

import (
	"math"
	"math/big"
	"math/bits"
)

// scalar is the exact arithmetic the simplex runs on. Two implementations:
// q64, a rational of int64s that is fast and, on the network-like matrices of
// tables with margins, never leaves the integers; and bigQ, math/big's
// rationals, used when q64 would overflow.
type scalar[T any] interface {
	add(T) T
	sub(T) T
	mul(T) T
	quo(T) T
	sign() int
	cmp(T) int
	floor() (int64, bool) // floor and whether it fits an int64
	ceil() (int64, bool)
}

// errOverflow is panicked by q64 and recovered by the solver, which then
// starts over with bigQ.
type overflowError struct{}

var errOverflow = overflowError{}

type q64 struct{ n, d int64 } // d > 0, gcd(n, d) = 1

func q64of(v int64) q64 { return q64{v, 1} }

func chkMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(abs64(a), abs64(b))
	if hi != 0 || lo > math.MaxInt64>>1 {
		panic(errOverflow)
	}
	if neg {
		return -int64(lo)
	}
	return int64(lo)
}

func chkAdd(a, b int64) int64 {
	s := a + b
	if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) || s > math.MaxInt64>>1 || s < -(math.MaxInt64>>1) {
		panic(errOverflow)
	}
	return s
}

func abs64(a int64) uint64 {
	if a < 0 {
		if a == math.MinInt64 {
			panic(errOverflow)
		}
		return uint64(-a)
	}
	return uint64(a)
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func mkq(n, d int64) q64 {
	if d < 0 {
		n, d = chkMul(n, -1), -d
	}
	if d == 1 || n == 0 {
		if n == 0 {
			return q64{0, 1}
		}
		return q64{n, d}
	}
	g := int64(gcd(abs64(n), uint64(d)))
	return q64{n / g, d / g}
}

func (a q64) add(b q64) q64 {
	if a.d == 1 && b.d == 1 {
		return q64{chkAdd(a.n, b.n), 1}
	}
	return mkq(chkAdd(chkMul(a.n, b.d), chkMul(b.n, a.d)), chkMul(a.d, b.d))
}

func (a q64) sub(b q64) q64 { return a.add(q64{chkMul(b.n, -1), b.d}) }

func (a q64) mul(b q64) q64 {
	if a.d == 1 && b.d == 1 {
		return q64{chkMul(a.n, b.n), 1}
	}
	return mkq(chkMul(a.n, b.n), chkMul(a.d, b.d))
}

func (a q64) quo(b q64) q64 {
	if b.n == 0 {
		panic("report: division by zero in simplex")
	}
	return mkq(chkMul(a.n, b.d), chkMul(a.d, b.n))
}

func (a q64) sign() int {
	switch {
	case a.n > 0:
		return 1
	case a.n < 0:
		return -1
	}
	return 0
}

func (a q64) cmp(b q64) int { return a.sub(b).sign() }

func (a q64) floor() (int64, bool) {
	q := a.n / a.d
	if a.n%a.d != 0 && a.n < 0 {
		q--
	}
	return q, true
}

func (a q64) ceil() (int64, bool) {
	q := a.n / a.d
	if a.n%a.d != 0 && a.n > 0 {
		q++
	}
	return q, true
}

type bigQ struct{ r *big.Rat }

func bigQof(v int64) bigQ { return bigQ{new(big.Rat).SetInt64(v)} }

func (a bigQ) add(b bigQ) bigQ { return bigQ{new(big.Rat).Add(a.r, b.r)} }
func (a bigQ) sub(b bigQ) bigQ { return bigQ{new(big.Rat).Sub(a.r, b.r)} }
func (a bigQ) mul(b bigQ) bigQ { return bigQ{new(big.Rat).Mul(a.r, b.r)} }
func (a bigQ) quo(b bigQ) bigQ { return bigQ{new(big.Rat).Quo(a.r, b.r)} }
func (a bigQ) sign() int       { return a.r.Sign() }
func (a bigQ) cmp(b bigQ) int  { return a.r.Cmp(b.r) }

func (a bigQ) floor() (int64, bool) {
	q, m := new(big.Int).DivMod(a.r.Num(), a.r.Denom(), new(big.Int)) // Euclidean: floor for d > 0
	_ = m
	return q.Int64(), q.IsInt64()
}

func (a bigQ) ceil() (int64, bool) {
	q, m := new(big.Int).DivMod(a.r.Num(), a.r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64(), q.IsInt64()
}
