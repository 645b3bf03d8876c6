/** The agent: scraping, discovery, relabeling and the remote-write queue. */
export * from './relabel.js';
