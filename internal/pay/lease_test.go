package pay

import (
	"context"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/state/memory"
)

// TestOneReconcilerPerDeployment: two instances sharing a state store;
// only the lease holder reconciles, and the other takes over when the
// holder stops or its lease lapses.
func TestOneReconcilerPerDeployment(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	a := &Service{State: st, Instance: "a"}
	b := &Service{State: st, Instance: "b"}
	if !a.lead(ctx, time.Minute) || b.lead(ctx, time.Minute) {
		t.Fatal("both or neither hold the lease")
	}
	if !a.lead(ctx, time.Minute) {
		t.Fatal("the holder lost its lease on renewal")
	}
	if _, err := st.DeleteIfEqual(ctx, leaseKey, "a"); err != nil { // a stops
		t.Fatal(err)
	}
	if !b.lead(ctx, 50*time.Millisecond) || a.lead(ctx, time.Minute) {
		t.Fatal("b did not take over after a stopped")
	}
	time.Sleep(100 * time.Millisecond) // b dies without releasing
	if !a.lead(ctx, time.Minute) {
		t.Fatal("a did not take over after b's lease lapsed")
	}
}
