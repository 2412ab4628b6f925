import { expect, test } from '@playwright/test';

const pages = [
  { link: 'Catalog', heading: 'Software Catalog' },
  { link: 'Docs', heading: 'Documentation' },
  { link: 'Events', heading: 'Events' },
  { link: 'Home', heading: 'Welcome to the Example Portal' },
];

for (const { link, heading } of pages) {
  test(`main navigation reaches ${link}`, async ({ page }) => {
    await page.goto('/');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(heading);
  });
}

// Only meaningful against the bundled static site: a deployed portal answers unknown paths with
// its own page. VR_SUITE=kargo leaves @local tests out.
test('unknown page answers 404', { tag: '@local' }, async ({ request }) => {
  const response = await request.get('/no-such-page.html');
  expect(response.status()).toBe(404);
});
