import { expect, test } from '@playwright/test';

test('events page lists upcoming events in date order', async ({ page }) => {
  await page.goto('/events.html');
  const events = page.getByTestId('event');
  await expect(events).toHaveCount(3);
  const dates = (await events.allTextContents()).map((text) => text.slice(0, 10));
  expect(dates).toEqual([...dates].sort());
});
