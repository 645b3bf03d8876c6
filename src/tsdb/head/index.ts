export { Head, type HeadOptions, type HeadStats } from './head.js';
export { HeadAppender } from './appender.js';
export { MemSeries, Appendable, SAMPLES_PER_CHUNK } from './series.js';
export { seriesIterator, ArrayIterator, drain } from './iterator.js';
