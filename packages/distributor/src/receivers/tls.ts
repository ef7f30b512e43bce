// Receiver TLS as the OpenTelemetry Collector spells it (`protocols.{grpc,http}.tls.{cert_file,
// key_file,client_ca_file}`): a certificate and key serve TLS; a client CA also requires clients
// to present a certificate it signed (mTLS). Files are read once, at start.

import { readFileSync } from 'node:fs';

export interface ReceiverTlsConfig {
  cert_file: string;
  key_file: string;
  /** Non-empty: clients must present a certificate signed by this CA. */
  client_ca_file: string;
}

export interface ReceiverTls {
  cert: Buffer;
  key: Buffer;
  /** Set for mTLS. */
  ca?: Buffer;
}

export function defaultReceiverTlsConfig(): ReceiverTlsConfig {
  return { cert_file: '', key_file: '', client_ca_file: '' };
}

/** The certificate, key and client CA, or null for plaintext; an error names the key at fault. */
export function readReceiverTls(cfg: ReceiverTlsConfig, path: string): ReceiverTls | null {
  const { cert_file, key_file, client_ca_file } = cfg;
  if (!cert_file && !key_file) {
    if (client_ca_file) throw new Error(`${path}.client_ca_file: set cert_file and key_file too (mTLS needs the server's own certificate)`);
    return null;
  }
  if (!cert_file) throw new Error(`${path}.cert_file: required when key_file is set`);
  if (!key_file) throw new Error(`${path}.key_file: required when cert_file is set`);
  const read = (file: string, key: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${path}.${key}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const tls: ReceiverTls = { cert: read(cert_file, 'cert_file'), key: read(key_file, 'key_file') };
  if (client_ca_file) tls.ca = read(client_ca_file, 'client_ca_file');
  return tls;
}
