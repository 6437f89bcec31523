/**
 * The control socket's path in the data directory: inside a directory only
 * the broker's OS user may enter, so no umask ever lets anyone else reach it.
 */
export const CONTROL_SOCKET = 'control/ctl.sock';
