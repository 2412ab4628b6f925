import { expect, test } from '@playwright/test';

// A developer's scratch spec. It lives outside the acceptance trees, so the runner never picks it
// up; it fails on purpose so that picking it up would show at once.
test('debug spec must never be discovered', async () => {
  expect('discovered').toBe('never discovered');
});
