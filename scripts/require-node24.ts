// npm test runs this first: the Lambdas run on nodejs24.x, so every local tool must too.
// The `node` devDependency puts Node 24 first on PATH for npm scripts, whatever the system Node is.
const major = Number(process.versions.node.split(".")[0]);
console.log(`node ${process.version} (${process.execPath})`);
if (major < 24) {
  console.error(
    `Node ${process.version} is running, but this project needs Node 24. Run the command through npm (npm test, npm start), which puts the project's own Node 24 from node_modules/.bin first on PATH.`,
  );
  process.exit(1);
}
