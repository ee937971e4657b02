// Request byte streams for the HTTP/1.1 tests (not a test file itself):
// hostile ones with the answer wsport must give (http_strictness_test.ts,
// over the core and over real sockets) and valid ones; both kinds also go
// to Python's h11 in http_differential_test.ts.

/** A request wsport refuses: the status and error code it answers with. */
export interface HostileCase {
  name: string;
  text: string;
  status: number;
  code: string;
  /** Where it is refused: at the head (before any request is reported) or while reading the body. */
  at: "head" | "body";
}

const POST = "POST / HTTP/1.1\r\nHost: a\r\n";
const CHUNKED = POST + "Transfer-Encoding: chunked\r\n\r\n";

/** Every refusal the strictness rules make, one case each (the list first). */
export const HOSTILE: HostileCase[] = [
  // Body length: Content-Length and Transfer-Encoding (RFC 9112 6.1, 6.3).
  { name: "Content-Length with Transfer-Encoding", text: POST + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_AMBIGUOUS_LENGTH", at: "head" },
  { name: "Transfer-Encoding with Content-Length", text: POST + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_AMBIGUOUS_LENGTH", at: "head" },
  { name: "duplicate Content-Length, same value", text: POST + "Content-Length: 2\r\nContent-Length: 2\r\n\r\nab", status: 400, code: "WS_ERR_HTTP_CONTENT_LENGTH", at: "head" },
  { name: "duplicate Content-Length, different values", text: POST + "Content-Length: 2\r\nContent-Length: 3\r\n\r\nabc", status: 400, code: "WS_ERR_HTTP_CONTENT_LENGTH", at: "head" },
  { name: "Content-Length as a list", text: POST + "Content-Length: 2, 2\r\n\r\nab", status: 400, code: "WS_ERR_HTTP_CONTENT_LENGTH", at: "head" },
  { name: "Content-Length with a plus sign", text: POST + "Content-Length: +2\r\n\r\nab", status: 400, code: "WS_ERR_HTTP_CONTENT_LENGTH", at: "head" },
  { name: "negative Content-Length", text: POST + "Content-Length: -2\r\n\r\nab", status: 400, code: "WS_ERR_HTTP_CONTENT_LENGTH", at: "head" },
  { name: "hexadecimal Content-Length", text: POST + "Content-Length: 0x2\r\n\r\nab", status: 400, code: "WS_ERR_HTTP_CONTENT_LENGTH", at: "head" },
  { name: "empty Content-Length", text: POST + "Content-Length: \r\n\r\nab", status: 400, code: "WS_ERR_HTTP_CONTENT_LENGTH", at: "head" },
  { name: "Content-Length with inner space", text: POST + "Content-Length: 1 2\r\n\r\nab", status: 400, code: "WS_ERR_HTTP_CONTENT_LENGTH", at: "head" },
  { name: "Content-Length in exponent form", text: POST + "Content-Length: 1e2\r\n\r\nab", status: 400, code: "WS_ERR_HTTP_CONTENT_LENGTH", at: "head" },
  { name: "Content-Length past 2^53", text: POST + "Content-Length: 99999999999999999999\r\n\r\nab", status: 413, code: "WS_ERR_HTTP_BODY_TOO_LARGE", at: "body" },
  // Transfer-Encoding other than a final chunked.
  { name: "Transfer-Encoding: gzip alone", text: POST + "Transfer-Encoding: gzip\r\n\r\nab", status: 400, code: "WS_ERR_HTTP_TRANSFER_ENCODING", at: "head" },
  { name: "Transfer-Encoding: chunked, gzip", text: POST + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_TRANSFER_ENCODING", at: "head" },
  { name: "Transfer-Encoding: chunked then gzip on two lines", text: POST + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_TRANSFER_ENCODING", at: "head" },
  { name: "Transfer-Encoding: chunked, chunked", text: POST + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_TRANSFER_ENCODING", at: "head" },
  { name: "Transfer-Encoding: identity", text: POST + "Transfer-Encoding: identity\r\n\r\nab", status: 400, code: "WS_ERR_HTTP_TRANSFER_ENCODING", at: "head" },
  { name: "Transfer-Encoding with an empty list element", text: POST + "Transfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_TRANSFER_ENCODING", at: "head" },
  { name: "empty Transfer-Encoding", text: POST + "Transfer-Encoding: \r\n\r\nab", status: 400, code: "WS_ERR_HTTP_TRANSFER_ENCODING", at: "head" },
  { name: "Transfer-Encoding with a parameter", text: POST + "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_TRANSFER_ENCODING", at: "head" },
  { name: "Transfer-Encoding in HTTP/1.0", text: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_TRANSFER_ENCODING", at: "head" },
  { name: "Transfer-Encoding: gzip, chunked (not implemented)", text: POST + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", status: 501, code: "WS_ERR_HTTP_TRANSFER_CODING", at: "head" },
  // Chunk sizes (RFC 9112 7.1: chunk-size = 1*HEXDIG).
  { name: "chunk size with a plus sign", text: CHUNKED + "+2\r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "negative chunk size", text: CHUNKED + "-2\r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk size with 0x", text: CHUNKED + "0x2\r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk size after a space", text: CHUNKED + " 2\r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk size before a space", text: CHUNKED + "2 \r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk size over 16 hex digits", text: CHUNKED + "00000000000000002\r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk size past 2^53 (hex overflow)", text: CHUNKED + "fffffffffffffff\r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk size over the body limit", text: CHUNKED + "100001\r\nab\r\n0\r\n\r\n", status: 413, code: "WS_ERR_HTTP_BODY_TOO_LARGE", at: "body" },
  { name: "empty chunk size", text: CHUNKED + "\r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk size line ending in bare LF", text: CHUNKED + "2\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk size line ending in bare CR", text: CHUNKED + "2\rab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk data longer than its size", text: CHUNKED + "2\r\nabc\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk data followed by bare LF", text: CHUNKED + "2\r\nab\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk extension with a bare LF", text: CHUNKED + "2;a\nb\r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk extension with a NUL", text: CHUNKED + "2;a\x00b\r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "chunk size line over 4 KiB (extensions)", text: CHUNKED + "2;" + "x".repeat(5000) + "\r\nab\r\n0\r\n\r\n", status: 400, code: "WS_ERR_HTTP_CHUNK", at: "body" },
  { name: "trailer with obs-fold", text: CHUNKED + "0\r\nT: a\r\n b\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "body" },
  { name: "trailer with a bare LF", text: CHUNKED + "0\r\nT: a\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "body" },
  // The head (RFC 9112 2.2, 5.1, 5.2).
  { name: "bare LF ending a header line", text: "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "bare LF ending the request line", text: "GET / HTTP/1.1\nHost: a\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "bare CR in a header line", text: "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "obs-fold", text: "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "whitespace before the colon", text: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "tab before the colon", text: "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "space inside a header name", text: "GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "NUL in a header value", text: "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "header line without a colon", text: "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "missing Host in HTTP/1.1", text: "GET / HTTP/1.1\r\nX: y\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HOST", at: "head" },
  { name: "two Host headers", text: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HOST", at: "head" },
  { name: "two spaces in the request line", text: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "HTTP/0.9 request line", text: "GET /\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "lower-case HTTP version", text: "GET / http/1.1\r\nHost: a\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "byte above 0x7e in the target", text: "GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, code: "WS_ERR_INVALID_HEAD", at: "head" },
  { name: "HTTP/2.0 request line", text: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505, code: "WS_ERR_HTTP_VERSION", at: "head" },
  { name: "HTTP/2 connection preface", text: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 505, code: "WS_ERR_HTTP_VERSION", at: "head" },
  { name: "Expect other than 100-continue", text: "GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", status: 417, code: "WS_ERR_HTTP_EXPECTATION", at: "head" },
  // Limits (8 KiB, 64 header lines by default).
  { name: "request line over the head limit", text: `GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`, status: 414, code: "WS_ERR_URI_TOO_LONG", at: "head" },
  { name: "head over 8 KiB", text: `GET / HTTP/1.1\r\nHost: a\r\nX: ${"a".repeat(9000)}\r\n\r\n`, status: 431, code: "WS_ERR_HEAD_TOO_LARGE", at: "head" },
  { name: "65 header lines", text: "GET / HTTP/1.1\r\nHost: a\r\n" + "X: y\r\n".repeat(64) + "\r\n", status: 431, code: "WS_ERR_TOO_MANY_HEADERS", at: "head" },
];

/** Requests every HTTP/1.1 parser must take, alone and pipelined. */
export const VALID: { name: string; text: string }[] = [
  { name: "GET", text: "GET / HTTP/1.1\r\nHost: a\r\n\r\n" },
  { name: "GET with query and headers", text: "GET /x?y=1&z=%20 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nX-Empty:\r\nUser-Agent: t/1 (x; y)\r\n\r\n" },
  { name: "POST with Content-Length", text: "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world" },
  { name: "Content-Length with OWS", text: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:   3  \r\n\r\nabc" },
  { name: "Content-Length with leading zeros", text: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 003\r\n\r\nabc" },
  { name: "chunked", text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" },
  { name: "chunked, capitalised", text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n" },
  { name: "chunked with extensions", text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b;c=\"d e\"\r\nab\r\n0;last\r\n\r\n" },
  { name: "chunked with trailers", text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\nChecksum: x\r\nOther: y\r\n\r\n" },
  { name: "chunked with leading zeros", text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0002\r\nab\r\n000\r\n\r\n" },
  { name: "HTTP/1.0 without Host", text: "GET / HTTP/1.0\r\n\r\n" },
  { name: "absolute-form target", text: "GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n" },
  { name: "OPTIONS *", text: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n" },
  { name: "obs-text in a header value", text: "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xe9\r\n\r\n" },
  { name: "Expect: 100-continue", text: "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab" },
  { name: "three pipelined", text: "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nxGET /3 HTTP/1.1\r\nHost: a\r\n\r\n" },
  { name: "Connection: close", text: "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" },
];
