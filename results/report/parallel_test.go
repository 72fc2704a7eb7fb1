package report

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/hpcbench/hpcbench/results/resultstest"
)

// The figures drawn on several cores at once are those drawn one after
// another, byte for byte.
func TestFiguresSameOnOneCoreAndMany(t *testing.T) {
	a := syntheticAnalysis(t, resultstest.Options{Seed: 11, Benchmarks: []string{"cg", "ep", "is"}})
	figs, err := Figures(a)
	if err != nil || len(figs) < 2 {
		t.Fatalf("%d figures, %v", len(figs), err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	r := renderAll(figs, 72)
	defer r.stop()
	for _, f := range figs {
		want, err := renderPNG(f, 72)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.get(f.Name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("figure %s: %d bytes drawn beside the others (%v), %d alone", f.Name, len(got), err, len(want))
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, a, Options{Version: "test", Generated: generated, DPI: 72}); err != nil || !bytes.HasPrefix(buf.Bytes(), []byte("%PDF")) {
		t.Errorf("Write: %d bytes, %v", buf.Len(), err)
	}
}

// An unknown figure is an error, not a wait that never ends; stopping
// leaves no figure half drawn.
func TestRenderingOfUnknownFigureAndStop(t *testing.T) {
	a := syntheticAnalysis(t, resultstest.Options{Seed: 11, Benchmarks: []string{"cg"}})
	figs, err := Figures(a)
	if err != nil || len(figs) == 0 {
		t.Fatalf("%d figures, %v", len(figs), err)
	}
	r := renderAll(figs, 72)
	if _, err := r.get("no-such-figure"); err == nil {
		t.Error("no error for a figure never made")
	}
	png, err := r.get(figs[0].Name)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("figure %s: %d bytes, %v", figs[0].Name, len(png), err)
	}
	r.stop()
	for _, f := range figs {
		select {
		case <-r.figs[f.Name].done:
		default:
			t.Errorf("figure %s still pending after stop", f.Name)
		}
	}
}
