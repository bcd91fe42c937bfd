package sinba_test

import (
	"bytes"
	"io"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/activity/sinba/sinbatest"
)

// consume reads a whole flow and validates every record, sampling the heap
// every sampleEvery records (0: never); it returns the number of records
// and the peak HeapInuse seen.
func consume(tb testing.TB, rd *sinba.Reader, sampleEvery int) (n int, peak uint64) {
	tb.Helper()
	if _, err := rd.Header(); err != nil {
		tb.Fatal(err)
	}
	var ms runtime.MemStats
	for rec, err := range rd.Records() {
		if err != nil {
			tb.Fatal(err)
		}
		if err := rec.Validate(now); err != nil {
			tb.Fatal(err)
		}
		n++
		if sampleEvery > 0 && n%sampleEvery == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	return n, peak
}

// pipeFlow returns a reader of a flow of n records generated while it is
// read, so that neither side ever holds the whole flow.
func pipeFlow(tb testing.TB, n int, json bool) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		write := sinbatest.WriteXML
		if json {
			write = sinbatest.WriteJSON
		}
		pw.CloseWithError(write(pw, "PIPE", n, 1, now))
	}()
	return pr
}

// TestStreamingMemoryIsFlat: the heap in use while reading a flow does not
// grow with the flow's size. The flows are generated while they are read,
// so the heap holds only what the reader keeps.
func TestStreamingMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("reads thousands of records")
	}
	// Holding the larger flow, or its records, would take more than the
	// margin: 20 MB of input (5 MB under the race detector).
	small, large, margin := 1_000, 20_000, uint64(8<<20)
	if raceEnabled {
		large, margin = 5_000, 4<<20
	}
	for _, json := range []bool{false, true} {
		var peaks []uint64
		for _, size := range []int{small, large} {
			runtime.GC()
			n, peak := consume(t, readerFor(pipeFlow(t, size, json), json), 100)
			require.Equal(t, size, n)
			peaks = append(peaks, peak)
			t.Logf("json=%v %6d records (~%d MB): peak HeapInuse %.1f MB", json, size, size/1000, float64(peak)/(1<<20))
		}
		require.Less(t, peaks[1], peaks[0]+margin, "heap grows with the flow")
	}
}

func readerFor(r io.Reader, json bool) *sinba.Reader {
	if json {
		return sinba.NewJSONReader(r)
	}
	return sinba.NewReader(r)
}

// BenchmarkReadValidate reads and validates a flow of 10 000 records
// (about 10 MB in XML) held in memory: records/s, MB/s, allocations. The
// heap is measured by BenchmarkStreamHeap, where the input is not in memory
// (a 10 MB input buffer would raise the garbage collector's target and
// make the figure meaningless).
func BenchmarkReadValidate(b *testing.B) {
	for _, format := range []string{"xml", "json"} {
		for _, size := range []int{1_000, 10_000} {
			var buf bytes.Buffer
			var err error
			if format == "json" {
				err = sinbatest.WriteJSON(&buf, "BENCH", size, 1, now)
			} else {
				err = sinbatest.WriteXML(&buf, "BENCH", size, 1, now)
			}
			require.NoError(b, err)
			data := buf.Bytes()
			b.Run(format+"/"+strconv.Itoa(size/1000)+"k", func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					n, _ := consume(b, readerFor(bytes.NewReader(data), format == "json"), 0)
					if n != size {
						b.Fatalf("read %d records, want %d", n, size)
					}
				}
				b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(len(data))/float64(size), "B-in/record")
			})
		}
	}
}

// BenchmarkStreamHeap reads flows of growing size generated while they are
// read and reports the peak HeapInuse (sampled every 100 records): it stays
// flat as the flow grows.
func BenchmarkStreamHeap(b *testing.B) {
	for _, format := range []string{"xml", "json"} {
		for _, size := range []int{1_000, 10_000, 100_000} {
			b.Run(format+"/"+strconv.Itoa(size/1000)+"k", func(b *testing.B) {
				var peak uint64
				for b.Loop() {
					runtime.GC()
					n, p := consume(b, readerFor(pipeFlow(b, size, format == "json"), format == "json"), 100)
					if n != size {
						b.Fatalf("read %d records, want %d", n, size)
					}
					peak = max(peak, p)
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			})
		}
	}
}

// BenchmarkWrite writes 10 000 records.
func BenchmarkWrite(b *testing.B) {
	recs := sinbatest.Records(1, 10_000, now)
	h := sinbatest.Header("BENCH")
	b.ReportAllocs()
	var size int
	for b.Loop() {
		cw := &countWriter{}
		w, err := sinba.NewWriter(cw, h)
		require.NoError(b, err)
		for i := range recs {
			require.NoError(b, w.Write(&recs[i]))
		}
		require.NoError(b, w.Close())
		size = cw.n
	}
	b.SetBytes(int64(size))
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
