// A mini program's typed use of miniback-weapp: package.test.js type-checks
// it with tsc --strict against index.d.ts. The @ts-expect-error lines are
// misuses the declarations must refuse (tsc fails when one is accepted).
import { createClient, MinibackError, Client, Order, User } from '../..';

declare const wx: import('../..').WxLike;

async function page(): Promise<void> {
  const api: Client = createClient({
    baseURL: 'https://api.example.com',
    appid: 'wx8d0e5a6b4c3f2a10',
    wx,
    onSessionLost: (err) => console.log(err.code, err.status, err.wechatErrcode),
  });
  const me: User = await api.me();
  const nickname: string | undefined = me.nickname;
  const res = await api.request<{ items: string[] }>({ url: '/shop/items', method: 'GET', data: { page: 1 } });
  const items: string[] = res.data.items;
  await api.updateProfile({ nickname: 'Mei', avatarUrl: 'https://example.com/a.png' });
  const phone = await api.bindPhone('code-from-e.detail.code');
  const pure: string = phone.pure_phone_number;
  const order: Order = await api.pay('T2026', { timeout: 20000 });
  const paid: boolean = order.status === 'paid';
  await api.logout();
  try {
    await api.me();
  } catch (e) {
    if (e instanceof MinibackError) {
      const code: string = e.code;
      const status: number = e.status;
      console.log(code, status);
    }
  }
  console.log(nickname, items, pure, paid, api.user && api.user.openid);

  // @ts-expect-error: wx.request has no PATCH
  await api.request({ url: '/me', method: 'PATCH' });
  // @ts-expect-error: an out_trade_no is a string
  await api.pay(42);
  // @ts-expect-error: appid is required
  createClient({ baseURL: 'https://api.example.com' });
  // @ts-expect-error: the profile field is avatarUrl
  await api.updateProfile({ avatar_url: 'x' });
}

export { page };
