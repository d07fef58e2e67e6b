#!/bin/bash
# Submit a `canopy plan` sweep as a Slurm job array and its merge as a job that starts only
# when every array task has succeeded (afterok). Extra arguments go to the array's sbatch
# (e.g. --array=0-15). CANOPY_BIN, CANOPY_SWEEP, CANOPY_OUT and CANOPY_CSV reach both jobs
# (sbatch exports the environment by default).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# --parsable prints "<job id>" or "<job id>;<cluster>".
array=$(sbatch --parsable "$@" "$here/plan-sweep.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" "$here/plan-merge.sbatch" "$array")
merge=${merge%%;*}
echo "array job $array (shards), merge job $merge (after the array succeeds)"
