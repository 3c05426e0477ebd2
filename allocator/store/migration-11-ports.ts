/**
 * Migration 11: the network of nodes and pods. A node's address and host port range as its agent
 * reports them (NULL: an agent older than ports, whose node hosts pods without ports only), and a
 * pod's assigned host ports, `{name: port}` as JSON, written when it is bound (NULL: none).
 */
export const V11_PORTS = `
ALTER TABLE nodes ADD COLUMN address TEXT;
ALTER TABLE nodes ADD COLUMN port_first INTEGER;
ALTER TABLE nodes ADD COLUMN port_last INTEGER;
ALTER TABLE pods ADD COLUMN ports TEXT;
`;
