// Starts the SNS/SQS emulator. Its own CLI logs two JSON lines per request; under load that log
// took a large share of the single-threaded emulator's CPU, so it is off unless FAUXQS_LOGGER=true.
import { startFauxqs } from "fauxqs";

await startFauxqs({ logger: process.env.FAUXQS_LOGGER === "true" });
