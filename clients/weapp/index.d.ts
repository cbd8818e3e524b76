// Type declarations of miniback-weapp (index.js).

/** The user as miniback answers it (SPEC §3.1); empty values are omitted. */
export interface User {
  id: number;
  appid: string;
  openid: string;
  unionid?: string;
  nickname?: string;
  avatar_url?: string;
  phone_number?: string;
  created_at: string;
  last_login_at?: string;
}

/** The answer of POST /api/v1/{appid}/login. */
export interface LoginAnswer {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  user: User;
  created: boolean;
}

export interface PhoneAnswer {
  phone_number: string;
  pure_phone_number: string;
  country_code: string;
}

/**
 * Where the client keeps its tokens (synchronous): get/set/remove, Web
 * Storage's getItem/setItem/removeItem, or wx's getStorageSync and friends
 * (the default is wx itself).
 */
export type TokenStorage =
  | { get(key: string): any; set(key: string, value: string): void; remove(key: string): void }
  | { getItem(key: string): any; setItem(key: string, value: string): void; removeItem(key: string): void }
  | { getStorageSync(key: string): any; setStorageSync(key: string, value: any): void; removeStorageSync(key: string): void };

/** The part of the mini program's wx object the client uses. */
export interface WxLike {
  login(options: { success(res: { code: string }): void; fail(err: { errMsg: string }): void }): void;
  request(options: {
    url: string;
    method: string;
    data?: unknown;
    header: Record<string, string>;
    dataType: string;
    responseType: string;
    success(res: { statusCode: number; data: unknown; header?: Record<string, string> }): void;
    fail(err: { errMsg: string }): void;
  }): void;
  requestPayment?(options: {
    timeStamp: string; nonceStr: string; package: string; signType: string; paySign: string;
    success(res: unknown): void; fail(err: { errMsg: string }): void;
  }): void;
  getStorageSync(key: string): any;
  setStorageSync(key: string, value: any): void;
  removeStorageSync(key: string): void;
}

export interface ClientOptions {
  /** miniback's origin, e.g. "https://api.example.com". */
  baseURL: string;
  appid: string;
  /** Defaults to the runtime's global wx. */
  wx?: WxLike;
  storage?: TokenStorage;
  /** Called once when the refresh token was refused and a new wx.login failed too. */
  onSessionLost?: (err: MinibackError) => void;
  /** The clock, in milliseconds (tests). Defaults to Date.now. */
  now?: () => number;
}

export interface RequestOptions {
  /** A path under /api/v1/{appid} ("/me", "/shop/items") or an absolute URL. */
  url: string;
  /** One of wx.request's methods (it has no PATCH). Defaults to GET. */
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD' | 'OPTIONS';
  data?: unknown;
  header?: Record<string, string>;
  /** Whether to send the access token (default true); only under baseURL. */
  auth?: boolean;
  dataType?: string;
  responseType?: 'text' | 'arraybuffer';
}

export interface Response<T = any> {
  statusCode: number;
  data: T;
  header: Record<string, string>;
}

/**
 * Every failure of the client. code is the server's error code
 * ("unauthorized", "invalid_code", …) or one of the client's own:
 * "network_error" (no answer), "bad_response" (an answer that is not the
 * expected JSON), "wx_login_failed", "foreign_url", "pay_cancelled",
 * "pay_failed", "pay_pending".
 */
export class MinibackError extends Error {
  constructor(code: string, message: string, status?: number, wechatErrcode?: number);
  readonly name: 'MinibackError';
  code: string;
  /** The HTTP status, 0 when there was no answer. */
  status: number;
  /** WeChat's errcode when WeChat caused the error, else 0. */
  wechatErrcode: number;
}

/** The order as miniback answers it (SPEC §12.2); amounts in fen. */
export interface Order {
  out_trade_no: string;
  appid: string;
  user_id: number;
  openid: string;
  description: string;
  amount: { total: number; currency: string };
  status: 'created' | 'paying' | 'paid' | 'closed' | 'refunded';
  transaction_id?: string;
  attach?: string;
  time_expire?: string;
  paid_at?: string;
  refunded: number;
  created_at: string;
  updated_at: string;
}

export interface Client {
  /** wx.login, then POST …/login; the tokens are stored. */
  login(): Promise<LoginAnswer>;
  /** Resolves with a 2xx answer; logs in, refreshes and retries as needed. */
  request<T = any>(options: RequestOptions): Promise<Response<T>>;
  me(): Promise<User>;
  updateProfile(profile: { nickname?: string; avatarUrl?: string }): Promise<User>;
  /** code is the phone-number button's e.detail.code. */
  bindPhone(code: string): Promise<PhoneAnswer>;
  /**
   * Pays the order: its wx.requestPayment arguments from miniback, the
   * payment sheet, then the order polled until paid (timeout ms, default
   * 15000). Rejects with pay_cancelled, pay_failed, order_closed or
   * pay_pending.
   */
  pay(outTradeNo: string, options?: { timeout?: number }): Promise<Order>;
  /** Revokes the session on the server and forgets the tokens. */
  logout(): Promise<void>;
  /** The user of the stored session, or null. */
  readonly user: User | null;
}

export function createClient(options: ClientOptions): Client;
