// Package pay owns miniback's WeChat Pay flow (SPEC §13): orders created by
// the business, prepay and the wx.requestPayment arguments, refunds,
// notifications applied exactly once, reconciliation of orders and refunds
// whose notification never came, and the business events posted to each
// app's pay.webhook_url.
//
// Exactly once rests on the store: every change of status is one
// conditional update with its event, so a payment reported by a
// notification, a query and a second instance counts once. Reconciliation
// and event delivery run in Run on one instance of the deployment at a
// time (a lease in the state store); their schedule lives in the database,
// so they survive restarts.
package pay
