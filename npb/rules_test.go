package npb

import (
	"errors"
	"testing"
)

func TestCheckRanks(t *testing.T) {
	tests := []struct {
		name  string
		ranks int
		ok    bool
	}{
		{"ep", 1, true}, {"ep", 3, true}, {"ep", 7, true},
		{"is", 1, true}, {"is", 2, true}, {"is", 3, false}, {"is", 4, true}, {"is", 6, false},
		{"cg", 8, true}, {"cg", 12, false},
		{"mg", 3, false}, {"mg", 16, true},
		{"ft", 3, false}, {"ft", 4, true},
		{"sp", 1, true}, {"sp", 2, false}, {"sp", 4, true}, {"sp", 8, false}, {"sp", 9, true},
		{"bt", 2, false}, {"bt", 16, true}, {"bt", 25, true},
		{"lu", 1, true}, {"lu", 2, true}, {"lu", 3, false}, {"lu", 4, true}, {"lu", 5, false},
		{"lu", 6, true}, {"lu", 7, false}, {"lu", 8, true}, {"lu", 9, true}, {"lu", 10, false}, {"lu", 12, true},
		{"LU", 2, true},
		{"ep", 0, false}, {"cg", -2, false},
	}
	for _, tt := range tests {
		err := CheckRanks(tt.name, tt.ranks)
		if (err == nil) != tt.ok {
			t.Errorf("CheckRanks(%q, %d) = %v, want ok=%v", tt.name, tt.ranks, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrRanks) {
			t.Errorf("CheckRanks(%q, %d) = %v, does not wrap ErrRanks", tt.name, tt.ranks, err)
		}
	}
}

func TestCheckRanksUnknownBenchmark(t *testing.T) {
	err := CheckRanks("xx", 2)
	if !errors.Is(err, ErrUnknownBenchmark) {
		t.Fatalf("CheckRanks(xx) = %v, want ErrUnknownBenchmark", err)
	}
}

func TestLUGrid(t *testing.T) {
	tests := []struct{ ranks, x, y int }{{1, 1, 1}, {2, 2, 1}, {4, 2, 2}, {6, 3, 2}, {8, 4, 2}, {12, 4, 3}, {16, 4, 4}, {32, 8, 4}}
	for _, tt := range tests {
		x, y, ok := LUGrid(tt.ranks)
		if !ok || x != tt.x || y != tt.y {
			t.Errorf("LUGrid(%d) = %d x %d, %v; want %d x %d", tt.ranks, x, y, ok, tt.x, tt.y)
		}
	}
}

func TestClassesAndNames(t *testing.T) {
	for _, c := range []string{"S", "W", "A", "F"} {
		if !IsClass(c) {
			t.Errorf("IsClass(%q) = false", c)
		}
	}
	for _, c := range []string{"s", "G", "", "SS"} {
		if IsClass(c) {
			t.Errorf("IsClass(%q) = true", c)
		}
	}
	if !IsName("bt") || IsName("hpl") {
		t.Error("IsName is wrong for bt or hpl")
	}
}
