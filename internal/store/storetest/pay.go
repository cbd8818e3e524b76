package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// PayOpenFunc opens a PayStore under test on an empty or shared, migrated
// database, and arranges its cleanup.
type PayOpenFunc func(t *testing.T) miniback.PayStore

// RunPay runs the conformance suite of miniback.PayStore.
func RunPay(t *testing.T, open PayOpenFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st miniback.PayStore)
	}{
		{"CreateOrder", testCreateOrder},
		{"Orders", testOrders},
		{"SetPrepay", testSetPrepay},
		{"MarkPaidOnce", testMarkPaidOnce},
		{"MarkClosed", testMarkClosed},
		{"DueOrders", testDueOrders},
		{"RefundLimits", testRefundLimits},
		{"RefundConcurrent", testRefundConcurrent},
		{"RefundStatus", testRefundStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func newOrder(appid, no string, total int64) *miniback.Order {
	return &miniback.Order{OutTradeNo: no, AppID: appid, UserID: 7, OpenID: "o7", Description: "咖啡 ☕",
		Amount: miniback.Amount{Total: total, Currency: "CNY"}, Attach: "a", Fingerprint: "fp-" + no,
		TimeExpire: at(2 * time.Hour), CreatedAt: at(0), NextCheckAt: at(time.Minute)}
}

func mustOrder(t *testing.T, st miniback.PayStore, o *miniback.Order) *miniback.Order {
	t.Helper()
	if err := st.CreateOrder(context.Background(), o); err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	return o
}

func mustPaid(t *testing.T, st miniback.PayStore, appid, no string) {
	t.Helper()
	if _, _, err := st.MarkPaid(context.Background(), appid, no, miniback.PaidUpdate{TransactionID: "tx-" + no, PaidAt: at(time.Minute)}, at(time.Minute)); err != nil {
		t.Fatalf("MarkPaid: %v", err)
	}
}

// events returns the pending events of appid.
func events(t *testing.T, st miniback.PayStore, appid string) []string {
	t.Helper()
	all, err := st.PendingPayEvents(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range all {
		if e.AppID == appid {
			out = append(out, e.Event+" "+e.OutTradeNo+" "+e.OutRefundNo)
		}
	}
	return out
}

func testCreateOrder(t *testing.T, st miniback.PayStore) {
	ctx, appid := context.Background(), appID(t)
	o := mustOrder(t, st, newOrder(appid, "order_0001", 100))
	if o.Status != miniback.OrderCreated || o.Seq == 0 {
		t.Fatalf("created order = %+v", o)
	}
	wantCode(t, st.CreateOrder(ctx, newOrder(appid, "order_0001", 100)), miniback.ECodeConflict)
	got, err := st.Order(ctx, appid, "order_0001")
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != o.Description || got.Amount != o.Amount || got.Fingerprint != "fp-order_0001" ||
		!got.TimeExpire.Equal(ms(o.TimeExpire)) || !got.CreatedAt.Equal(ms(at(0))) || !got.NextCheckAt.Equal(ms(at(time.Minute))) || got.UserID != 7 {
		t.Fatalf("Order = %+v", got)
	}
	_, err = st.Order(ctx, appid, "order_none")
	wantCode(t, err, miniback.ECodeNotFound)
	_, err = st.Order(ctx, appid+"x", "order_0001")
	wantCode(t, err, miniback.ECodeNotFound)
}

func testOrders(t *testing.T, st miniback.PayStore) {
	ctx, appid := context.Background(), appID(t)
	for i, no := range []string{"order_a001", "order_a002", "order_a003"} {
		o := newOrder(appid, no, 100)
		o.UserID = int64(1 + i%2)
		mustOrder(t, st, o)
	}
	mustPaid(t, st, appid, "order_a003")
	page, err := st.Orders(ctx, appid, miniback.OrderFilter{Limit: 2})
	if err != nil || len(page) != 2 || page[0].OutTradeNo != "order_a003" || page[1].OutTradeNo != "order_a002" {
		t.Fatalf("first page = %v, %v", page, err)
	}
	rest, _ := st.Orders(ctx, appid, miniback.OrderFilter{Limit: 2, BeforeSeq: page[1].Seq})
	if len(rest) != 1 || rest[0].OutTradeNo != "order_a001" {
		t.Fatalf("second page = %v", rest)
	}
	mine, _ := st.Orders(ctx, appid, miniback.OrderFilter{Limit: 10, UserID: 1})
	paid, _ := st.Orders(ctx, appid, miniback.OrderFilter{Limit: 10, Status: miniback.OrderPaid})
	if len(mine) != 2 || len(paid) != 1 || paid[0].OutTradeNo != "order_a003" {
		t.Fatalf("user 1: %d orders, paid: %v", len(mine), paid)
	}
}

func testSetPrepay(t *testing.T, st miniback.PayStore) {
	ctx, appid := context.Background(), appID(t)
	mustOrder(t, st, newOrder(appid, "order_p001", 100))
	o, err := st.SetPrepay(ctx, appid, "order_p001", "wx1", at(time.Second), at(time.Minute))
	if err != nil || o.Status != miniback.OrderPaying || o.PrepayID != "wx1" || !o.PrepayAt.Equal(ms(at(time.Second))) {
		t.Fatalf("SetPrepay = %+v, %v", o, err)
	}
	if o, err = st.SetPrepay(ctx, appid, "order_p001", "wx2", at(3*time.Hour), at(time.Minute)); err != nil || o.PrepayID != "wx2" {
		t.Fatalf("second SetPrepay = %+v, %v", o, err)
	}
	mustPaid(t, st, appid, "order_p001")
	_, err = st.SetPrepay(ctx, appid, "order_p001", "wx3", at(4*time.Hour), at(time.Minute))
	wantCode(t, err, miniback.ECodeConflict)
	_, err = st.SetPrepay(ctx, appid, "order_none", "wx3", at(4*time.Hour), at(time.Minute))
	wantCode(t, err, miniback.ECodeNotFound)
}

// testMarkPaidOnce applies one payment from many goroutines: one applies
// it, the others see it applied; one event is recorded.
func testMarkPaidOnce(t *testing.T, st miniback.PayStore) {
	ctx, appid := context.Background(), appID(t)
	mustOrder(t, st, newOrder(appid, "order_m001", 100))
	var changed atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, ch, err := st.MarkPaid(ctx, appid, "order_m001", miniback.PaidUpdate{TransactionID: "4200001", PaidAt: at(time.Minute)}, at(2*time.Minute))
			if err != nil || o.Status != miniback.OrderPaid || o.TransactionID != "4200001" || !o.NextCheckAt.IsZero() {
				t.Errorf("MarkPaid = %+v, %v", o, err)
			}
			if ch {
				changed.Add(1)
			}
		}()
	}
	wg.Wait()
	if changed.Load() != 1 {
		t.Fatalf("%d calls changed the order, want 1", changed.Load())
	}
	if ev := events(t, st, appid); len(ev) != 1 || ev[0] != "order.paid order_m001 " {
		t.Fatalf("events = %q", ev)
	}
	_, _, err := st.MarkPaid(ctx, appid, "order_m001", miniback.PaidUpdate{TransactionID: "4200002", PaidAt: at(time.Minute)}, at(2*time.Minute))
	wantCode(t, err, miniback.ECodeConflict)
	// A payment WeChat Pay reports for an order closed here still counts.
	mustOrder(t, st, newOrder(appid, "order_m002", 100))
	if _, _, err := st.MarkClosed(ctx, appid, "order_m002", at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if o, ch, err := st.MarkPaid(ctx, appid, "order_m002", miniback.PaidUpdate{TransactionID: "4200003", PaidAt: at(time.Minute)}, at(2*time.Minute)); err != nil || !ch || o.Status != miniback.OrderPaid {
		t.Fatalf("paid after close = %+v %v %v", o, ch, err)
	}
	ev, _ := st.PendingPayEvents(ctx, 1000)
	for _, e := range ev {
		if e.AppID == appid {
			if done, err := st.PayEventDone(ctx, e.ID); err != nil || done {
				t.Fatalf("PayEventDone of a pending event = %v, %v", done, err)
			}
			if err := st.FinishPayEvent(ctx, e.ID, at(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if done, err := st.PayEventDone(ctx, e.ID); err != nil || !done {
				t.Fatalf("PayEventDone of a finished event = %v, %v", done, err)
			}
		}
	}
	if done, err := st.PayEventDone(ctx, "no-such-event"); err != nil || !done {
		t.Fatalf("PayEventDone of an unknown event = %v, %v", done, err)
	}
	if ev := events(t, st, appid); len(ev) != 0 {
		t.Fatalf("events after finishing = %q", ev)
	}
}

func testMarkClosed(t *testing.T, st miniback.PayStore) {
	ctx, appid := context.Background(), appID(t)
	mustOrder(t, st, newOrder(appid, "order_c001", 100))
	if o, ch, err := st.MarkClosed(ctx, appid, "order_c001", at(time.Minute)); err != nil || !ch || o.Status != miniback.OrderClosed {
		t.Fatalf("MarkClosed = %+v %v %v", o, ch, err)
	}
	if _, ch, err := st.MarkClosed(ctx, appid, "order_c001", at(time.Minute)); err != nil || ch {
		t.Fatalf("second MarkClosed changed = %v, %v", ch, err)
	}
	mustOrder(t, st, newOrder(appid, "order_c002", 100))
	mustPaid(t, st, appid, "order_c002")
	_, _, err := st.MarkClosed(ctx, appid, "order_c002", at(time.Minute))
	wantCode(t, err, miniback.ECodeOrderPaid)
}

func testDueOrders(t *testing.T, st miniback.PayStore) {
	ctx, appid := context.Background(), appID(t)
	base := at(-1000 * time.Hour) // before every other test's schedule
	o := newOrder(appid, "order_d001", 100)
	o.NextCheckAt = base
	mustOrder(t, st, o)
	due := func() []string {
		all, err := st.DueOrders(ctx, base.Add(time.Second), 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range all {
			if o.AppID == appid {
				out = append(out, o.OutTradeNo)
			}
		}
		return out
	}
	if d := due(); len(d) != 1 {
		t.Fatalf("due = %v", d)
	}
	if err := st.ScheduleOrderCheck(ctx, appid, "order_d001", base.Add(time.Hour), 3); err != nil {
		t.Fatal(err)
	}
	if d := due(); len(d) != 0 {
		t.Fatalf("due after rescheduling = %v", d)
	}
	got, _ := st.Order(ctx, appid, "order_d001")
	if got.Checks != 3 {
		t.Fatalf("checks = %d", got.Checks)
	}
}

func testRefundLimits(t *testing.T, st miniback.PayStore) {
	ctx, appid := context.Background(), appID(t)
	mustOrder(t, st, newOrder(appid, "order_r001", 100))
	refund := func(no string, amount int64) error {
		return st.CreateRefund(ctx, &miniback.Refund{AppID: appid, OutRefundNo: no, OutTradeNo: "order_r001", Amount: amount, CreatedAt: at(0), NextCheckAt: at(time.Minute)})
	}
	wantCode(t, refund("refund_0", 10), miniback.ECodeOrderNotPaid)
	mustPaid(t, st, appid, "order_r001")
	if err := refund("refund_1", 60); err != nil {
		t.Fatal(err)
	}
	wantCode(t, refund("refund_1", 10), miniback.ECodeConflict)
	wantCode(t, refund("refund_2", 41), miniback.ECodeRefundExceeds)
	if _, _, err := st.SetRefundStatus(ctx, appid, "refund_1", miniback.RefundClosed, "", at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := refund("refund_3", 100); err != nil {
		t.Fatalf("closed refunds free their amount: %v", err)
	}
	r, err := st.Refund(ctx, appid, "refund_3")
	if err != nil || r.Status != miniback.RefundProcessing || r.Amount != 100 || r.OutTradeNo != "order_r001" {
		t.Fatalf("Refund = %+v, %v", r, err)
	}
	_, err = st.Refund(ctx, appid, "refund_none")
	wantCode(t, err, miniback.ECodeNotFound)
	wantCode(t, st.CreateRefund(ctx, &miniback.Refund{AppID: appid, OutRefundNo: "refund_4", OutTradeNo: "order_none", Amount: 1, CreatedAt: at(0)}), miniback.ECodeNotFound)
}

func testRefundConcurrent(t *testing.T, st miniback.PayStore) {
	ctx, appid := context.Background(), appID(t)
	mustOrder(t, st, newOrder(appid, "order_q001", 100))
	mustPaid(t, st, appid, "order_q001")
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := st.CreateRefund(ctx, &miniback.Refund{AppID: appid, OutRefundNo: "refund_c" + string(rune('a'+i)), OutTradeNo: "order_q001", Amount: 30, CreatedAt: at(0)})
			if err == nil {
				ok.Add(1)
			} else if miniback.ErrorCode(err) != miniback.ECodeRefundExceeds {
				t.Errorf("CreateRefund: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 3 {
		t.Fatalf("%d refunds of 30 fen accepted on a 100 fen order, want 3", ok.Load())
	}
}

func testRefundStatus(t *testing.T, st miniback.PayStore) {
	ctx, appid := context.Background(), appID(t)
	mustOrder(t, st, newOrder(appid, "order_s001", 100))
	mustPaid(t, st, appid, "order_s001")
	for _, no := range []string{"refund_s1", "refund_s2"} {
		if err := st.CreateRefund(ctx, &miniback.Refund{AppID: appid, OutRefundNo: no, OutTradeNo: "order_s001", Amount: 50, CreatedAt: at(0), NextCheckAt: at(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	r, ch, err := st.SetRefundStatus(ctx, appid, "refund_s1", miniback.RefundSucceeded, "5001", at(time.Hour))
	if err != nil || !ch || r.RefundID != "5001" || !r.SucceededAt.Equal(ms(at(time.Hour))) {
		t.Fatalf("SetRefundStatus = %+v %v %v", r, ch, err)
	}
	if _, ch, _ := st.SetRefundStatus(ctx, appid, "refund_s1", miniback.RefundSucceeded, "5001", at(time.Hour)); ch {
		t.Fatal("the same success applied twice")
	}
	o, _ := st.Order(ctx, appid, "order_s001")
	if o.Refunded != 50 || o.Status != miniback.OrderPaid {
		t.Fatalf("after half: %+v", o)
	}
	if _, _, err := st.SetRefundStatus(ctx, appid, "refund_s2", miniback.RefundAbnormal, "", at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SetRefundStatus(ctx, appid, "refund_s2", miniback.RefundSucceeded, "", at(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	o, _ = st.Order(ctx, appid, "order_s001")
	if o.Refunded != 100 || o.Status != miniback.OrderRefunded {
		t.Fatalf("after all: %+v", o)
	}
	_, _, err = st.SetRefundStatus(ctx, appid, "refund_s1", miniback.RefundClosed, "", at(time.Hour))
	wantCode(t, err, miniback.ECodeConflict)
	want := []string{"order.paid order_s001 ", "refund.succeeded order_s001 refund_s1", "refund.abnormal order_s001 refund_s2",
		"refund.succeeded order_s001 refund_s2", "order.refunded order_s001 "}
	got := events(t, st, appid)
	if len(got) != len(want) {
		t.Fatalf("events = %q, want %q", got, want)
	}
	seen := map[string]bool{}
	for _, e := range got {
		seen[e] = true
	}
	for _, w := range want {
		if !seen[w] {
			t.Fatalf("events = %q, want %q", got, want)
		}
	}
}
