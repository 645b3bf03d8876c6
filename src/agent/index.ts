/** The agent: scraping, discovery, relabeling and the remote-write queue. */
export * from './relabel.js';
export * from './discovery/index.js';
export * from './scrape/index.js';
export * from './storage/index.js';
export * from './remote/index.js';
