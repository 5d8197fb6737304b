package traffic

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	m := &Memory{Propagation: 2 * time.Second, Now: func() time.Time { return now }}
	shop := Service{Zone: "Z1", Name: "shop.example.com", TTL: 30 * time.Second}
	cart := Service{Zone: "Z1", Name: "cart.example.com"}
	other := Service{Zone: "Z2", Name: "shop.example.org"}

	id1, err := m.Publish(ctx, shop, []Weight{{ID: "ns/a", Weight: 100}, {ID: "ns/b", Weight: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := m.InSync(ctx, id1); ok {
		t.Error("a change is in sync before its propagation time")
	}
	// One change per zone at a time, as Route53's PriorRequestNotComplete.
	if _, err := m.Publish(ctx, cart, []Weight{{ID: "ns/c", Weight: 1}}); !errors.Is(err, ErrChangeInProgress) {
		t.Errorf("second change to the same zone while one is pending: got %v, want ErrChangeInProgress", err)
	}
	if _, err := m.Publish(ctx, other, []Weight{{ID: "ns/d", Weight: 1}}); err != nil {
		t.Errorf("a change to another zone is independent: %v", err)
	}

	now = now.Add(2 * time.Second)
	if ok, err := m.InSync(ctx, id1); !ok || err != nil {
		t.Errorf("InSync after propagation = %t, %v", ok, err)
	}
	id2, err := m.Publish(ctx, shop, []Weight{{ID: "ns/a", Weight: 0}, {ID: "ns/b", Remove: true}})
	if err != nil {
		t.Fatal(err)
	}
	if id2 == id1 {
		t.Error("change ids are reused")
	}
	if got, want := m.Records(shop), map[string]int32{"ns/a": 0}; !maps.Equal(got, want) {
		t.Errorf("records = %v, want %v", got, want)
	}
	if got := m.Records(cart); len(got) != 0 {
		t.Errorf("the refused change was applied: %v", got)
	}

	// Invalid input changes nothing.
	for _, bad := range [][]Weight{{{ID: "", Weight: 1}}, {{ID: "ns/a", Weight: 256}}, {{ID: "ns/a", Weight: 5}, {ID: "ns/x", Weight: -1}}} {
		now = now.Add(time.Hour)
		if _, err := m.Publish(ctx, shop, bad); err == nil {
			t.Errorf("Publish(%v) succeeded", bad)
		}
	}
	if got, want := m.Records(shop), map[string]int32{"ns/a": 0}; !maps.Equal(got, want) {
		t.Errorf("records after invalid changes = %v, want %v", got, want)
	}
	if _, err := m.InSync(ctx, "nope"); err == nil {
		t.Error("InSync of an unknown change succeeded")
	}
	if c := m.Calls(); c.Publish != 3 || c.Refused != 1 {
		t.Errorf("calls = %+v, want 3 accepted and 1 refused", c)
	}
	if n := len(m.Changes()); n != 3 {
		t.Errorf("%d changes recorded, want 3", n)
	}
}

func TestMemoryWithoutPropagationIsInSyncAtOnce(t *testing.T) {
	ctx := context.Background()
	m := &Memory{}
	svc := Service{Zone: "Z", Name: "a.example.com"}
	for i := range 3 {
		id, err := m.Publish(ctx, svc, []Weight{{ID: "p", Weight: int32(i)}})
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := m.InSync(ctx, id); !ok {
			t.Fatalf("change %d not in sync", i)
		}
	}
}
