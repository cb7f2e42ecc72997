// Who the console acts as: the token typed once, and the user and role GET /api/whoami gave
// for it. Kept in sessionStorage, so it lasts while the tab is open and is gone when it closes.
const KEY = 'cairn.session';

export const session = {
  token: null,
  user: null,
  role: null,

  load() {
    try {
      Object.assign(this, JSON.parse(sessionStorage.getItem(KEY)) ?? {});
    } catch {
      this.clear();
    }
  },

  save({ token, user, role }) {
    Object.assign(this, { token, user, role });
    sessionStorage.setItem(KEY, JSON.stringify({ token, user, role }));
  },

  clear() {
    Object.assign(this, { token: null, user: null, role: null });
    sessionStorage.removeItem(KEY);
  },

  get isAdmin() {
    return this.role === 'admin';
  },
};
