// CommonJS on purpose: the runner must load .js specs as well as TypeScript ones.
const { expect, test } = require('@playwright/test');

test('health endpoint answers ok', async ({ request }) => {
  const response = await request.get('/healthz.json');
  expect(response.ok()).toBeTruthy();
  expect(await response.json()).toEqual({ status: 'ok' });
});
