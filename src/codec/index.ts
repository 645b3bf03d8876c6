/** Wire codecs: remote write 1.0/2.0, remote read, snappy block framing, CRC-32C, protobuf helpers. */
export { DecodeError, Reader, Writer } from './protobuf.js';
export { readUvarint, writeUvarint, writeVarint64, uvarintSize, VARINT_TRUNCATED, VARINT_OVERFLOW } from './varint.js';
export { crc32c } from './crc32c.js';
export { snappyCompress, snappyUncompress, snappyDecodedLength } from './snappy.js';
export {
  decodeWriteV1,
  decodeWriteV2,
  decodedLabels,
  metricTypeV1ToV2,
  MetricType,
} from './remote-write.js';
export type { DecodedWrite, WriteMetadata } from './remote-write.js';
export { encodeWriteV1, encodeWriteV2, encodeLabelsV1, sampleFieldSizeV1, writeSampleV1At, writeSampleV1WithTs, SampleTimestampV1, type WriteSeries, type WriteSeriesV2 } from './remote-write-encode.js';
export {
  decodeReadRequest,
  encodeReadRequest,
  encodeReadResponse,
  decodeReadResponse,
  encodeChunkedReadFrame,
  decodeChunkedReadFrame,
  ChunkEncoding,
  RESPONSE_TYPE_SAMPLES,
  RESPONSE_TYPE_STREAMED_XOR_CHUNKS,
} from './remote-read.js';
export type {
  ReadRequest,
  ReadQuery,
  ReadMatcher,
  ReadHints,
  ReadSeries,
  ReadChunk,
  ChunkedSeries,
  ChunkedReadFrame,
} from './remote-read.js';
