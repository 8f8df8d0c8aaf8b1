import { deployProof } from "../support/deploy-proof";

// One environment per file: jest runs the three proofs side by side, each on its own moto.
deployProof("prod");
