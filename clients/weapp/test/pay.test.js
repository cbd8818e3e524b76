// pay(outTradeNo) against the real binary's WeChat Pay sandbox: the order is
// created by the business service (admin API), paid by the mini program.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { createClient, MinibackError } = require('..');
const h = require('./harness');

let server;
before(async () => { server = await h.startServer(); });
after(() => server && server.stop());

let users = 0;
function newClient() {
  const wx = h.createWx(server.base, h.APPID, 'weapp-payer-' + process.pid + '-' + ++users);
  return { wx, client: createClient({ baseURL: server.base, appid: h.APPID, wx }) };
}

async function createOrder(userID, total) {
  const res = await h.postJSON(`${server.base}/admin/v1/${h.APPID}/pay/orders`,
    { user_id: userID, description: 'A cup of tea', amount: { total } }, { Authorization: 'Bearer ' + h.ADMIN_KEY });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

test('pay: wx.requestPayment, then the order is paid', async () => {
  const { wx, client } = newClient();
  const { user } = await client.login();
  const order = await createOrder(user.id, 1);
  const paid = await client.pay(order.out_trade_no);
  assert.equal(paid.status, 'paid');
  assert.equal(paid.out_trade_no, order.out_trade_no);
  assert.equal(paid.amount.total, 1);
  assert.ok(paid.transaction_id);
  assert.equal(wx.counts.pay, 1);
});

test('pay: a closed payment sheet rejects with pay_cancelled and the order stays unpaid', async () => {
  const { wx, client } = newClient();
  const { user } = await client.login();
  const order = await createOrder(user.id, 2);
  wx.payCancel = true;
  const e = await client.pay(order.out_trade_no).then(() => null, (err) => err);
  assert.ok(e instanceof MinibackError);
  assert.equal(e.code, 'pay_cancelled');
  const res = await client.request({ url: '/pay/orders/' + order.out_trade_no });
  assert.notEqual(res.data.status, 'paid');
});

test('pay: another requestPayment failure rejects with pay_failed', async () => {
  const { wx, client } = newClient();
  const { user } = await client.login();
  const order = await createOrder(user.id, 4);
  wx.payFail = 'requestPayment:fail insufficient balance';
  const e = await client.pay(order.out_trade_no).then(() => null, (err) => err);
  assert.ok(e instanceof MinibackError);
  assert.equal(e.code, 'pay_failed');
  assert.match(e.message, /insufficient balance/);
});

// The test's own timeout guards against a pay() that polls past its deadline
// forever; the deadline itself is pay's timeout option.
test('pay: requestPayment\'s success alone is not trusted: unconfirmed by the deadline is pay_pending', { timeout: 30000 }, async () => {
  const { wx, client } = newClient();
  const { user } = await client.login();
  const order = await createOrder(user.id, 5);
  wx.payUnconfirmed = true;
  const e = await client.pay(order.out_trade_no, { timeout: 1000 }).then(() => null, (err) => err);
  assert.ok(e instanceof MinibackError);
  assert.equal(e.code, 'pay_pending');
  assert.equal(wx.counts.pay, 1);
  const res = await client.request({ url: '/pay/orders/' + order.out_trade_no + '?sync=true' });
  assert.notEqual(res.data.status, 'paid', 'the server never saw the payment');
});

test('pay: another user\'s order is not found, and nothing is paid', async () => {
  const a = newClient();
  const b = newClient();
  const { user } = await a.client.login();
  const order = await createOrder(user.id, 3);
  const e = await b.client.pay(order.out_trade_no).then(() => null, (err) => err);
  assert.equal(e.code, 'not_found');
  assert.equal(e.status, 404);
  assert.equal(b.wx.counts.pay || 0, 0, 'requestPayment never opened');
});
