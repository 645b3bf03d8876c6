/**
 * The PromQL engine's public face: `Engine` evaluates instant and range queries against any `Queryable`
 * with Prometheus 3.x semantics; errors are `PromQLError`s whose `errorType` the HTTP API maps to a status.
 */
export { Engine, type EngineOptions, type QueryOptions, type QueryResult, type QueryValue, type Point } from './engine.js';
export { PromQLError, type PromQLErrorType } from './errors.js';
