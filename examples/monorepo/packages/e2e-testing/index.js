// The monorepo's shared test fixtures, as Backstage keeps them in a package of its own.
'use strict';
const { test: base, expect } = require('@playwright/test');

/** `user`: who the tests sign in as (E2E_USER_NAME, from the workspace's .env or the Job). */
const test = base.extend({
  user: async ({}, use) => {
    const name = process.env.E2E_USER_NAME;
    if (!name) throw new Error('E2E_USER_NAME is unset: add it to .env or pass it to the run');
    await use({ name });
  },
});

module.exports = { test, expect };
