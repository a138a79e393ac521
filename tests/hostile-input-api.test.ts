import { describeHostileInput } from './support/hostile-input';

// hostile input at the admin, account, analytics and health APIs (the rest: hostile-input.test.ts)
describeHostileInput('hostile input at every parameter of the admin, account and analytics APIs', (endpoint) => endpoint.kind === 'api');
