package wire

import "testing"

func TestIsInternal(t *testing.T) {
	tests := map[string]bool{
		"X-Strangler-Shadow":   true,
		"x-strangler-shadow":   true,
		"X-STRANGLER-ANYTHING": true,
		"X_Strangler_Shadow":   true,
		"x-strangler_":         true,
		"X-Strangler-":         true,
		"X-Strangler":          false,
		"X-Stranglers-Shadow":  false,
		"Strangler-Shadow":     false,
		"X-Request-Id":         false,
		"":                     false,
	}
	for name, want := range tests {
		if got := IsInternal(name); got != want {
			t.Errorf("IsInternal(%q) = %v, want %v", name, got, want)
		}
	}
}
