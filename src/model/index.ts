export * from './labels.js';
export * from './matcher.js';
export * from './duration.js';
export * from './value.js';
