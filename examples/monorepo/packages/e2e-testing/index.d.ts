import type { TestType, PlaywrightTestArgs, PlaywrightTestOptions, PlaywrightWorkerArgs, PlaywrightWorkerOptions } from '@playwright/test';

export const test: TestType<
  PlaywrightTestArgs & PlaywrightTestOptions & { user: { name: string } },
  PlaywrightWorkerArgs & PlaywrightWorkerOptions
>;
export { expect } from '@playwright/test';
