import path from 'node:path';

/**
 * Where the sign-in state is kept between the setup project and the tests. The runner hands
 * every run a writable VERIFICATION_STATE_DIR (the workspace may be read-only in the Job);
 * a bare `npx playwright test` keeps it in .auth/, relative to the workspace.
 */
export const STORAGE_STATE = path.join(process.env.VERIFICATION_STATE_DIR || '.auth', 'user.json');
