import { describeHostileInput } from './support/hostile-input';

// hostile input at the protocol endpoints, the sign-in forms and the pages (the APIs: hostile-input-api.test.ts)
describeHostileInput('hostile input at every parameter of the protocol endpoints, forms and pages', (endpoint) => endpoint.kind !== 'api', {
  requestLines: true,
});
