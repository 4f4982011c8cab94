import { prepareCluster } from './cluster.js';

/** `scripts/cluster.sh up`'s last step: `node dist/temporal/prepare-cluster.js <host:port> [namespace]`. */
const [address, namespace = 'default'] = process.argv.slice(2);
if (!address) {
  process.stderr.write('usage: node dist/temporal/prepare-cluster.js <host:port> [namespace]\n');
  process.exit(2);
}
prepareCluster(address, namespace).then(
  (done) => process.stdout.write(done.map((d) => `  ${d}\n`).join('')),
  (err) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
