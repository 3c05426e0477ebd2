// A tiny "model" for the serving examples and tests: answers every request on $PORT with JSON naming
// itself (the pod, from TESSERA_POD_ID or the process id, its process id and port), the method, the
// path and the body it got.
// Optional DELAY_MS holds each answer that long, so a load test can keep requests in flight.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const delayMs = Number(process.env.DELAY_MS ?? 0);
const me = process.env.TESSERA_POD_ID ?? `pid-${process.pid}`;

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          pod: me,
          pid: process.pid,
          port,
          method: req.method,
          path: req.url,
          body: Buffer.concat(chunks).toString('utf8'),
          authorization: req.headers.authorization ?? null,
          prefix: req.headers['x-forwarded-prefix'] ?? null,
        }),
      );
    }, delayMs);
  });
}).listen(port, '127.0.0.1');
