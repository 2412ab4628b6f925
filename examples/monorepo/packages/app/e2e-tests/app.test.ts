import { expect, test } from '@example/e2e-testing';

test('App should render the welcome page', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Welcome to the Example Backstage' })).toBeVisible();
});

test('the setup project signed us in', async ({ page, user }) => {
  await page.goto('/');
  await expect(page.getByTestId('session')).toHaveText(`Signed in as ${user.name}`);
});

test('the page speaks the locale the workspace asked for', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('language')).toHaveText('de-DE');
});
