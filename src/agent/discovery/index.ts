/** Service discovery: target groups from static_configs and file_sd_configs. */
export { ADDRESS_LABEL, parseTargetGroups, staticGroups, TargetGroupError } from './targetgroup.js';
export type { TargetGroup } from './targetgroup.js';
export { FILEPATH_LABEL, FileDiscovery, readGroups, StaticDiscovery } from './file.js';
export type { Discoverer, FileDiscoveryStats } from './file.js';
