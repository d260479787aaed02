package nodeip

import "testing"

func TestDefaultIsALocalAddress(t *testing.T) {
	a := Default()
	if !a.IsValid() || !a.Is4() {
		t.Fatalf("Default() = %v", a)
	}
}
