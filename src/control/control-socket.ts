/** The control socket's name in the data directory. */
export const CONTROL_SOCKET = 'ctl.sock';
