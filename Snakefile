# rnncap: "Capacity and Trainability in Recurrent Neural Networks" (Collins,
# Sohl-Dickstein, Sussillo, ICLR 2017), rerun from scratch.
#
#   snakemake --cores all                                  # default preset (reduced scale, minutes)
#   snakemake --cores 2 --configfile config/test.yaml      # tiny: every rule, for CI
#   snakemake -n --configfile config/paper.yaml            # the paper's grid: job count and cost
#
# The flow, the layout and the stage contracts: docs/contracts.md. Config keys:
# workflow/schemas/config.schema.yaml. Local defaults: profiles/default/profile.yaml.
from snakemake.utils import min_version

min_version("9.0")


# The default preset, unless --configfile names another: Snakemake would otherwise merge
# the two (a --configfile extends the directive's values), mixing presets' experiments.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/paper.smk"


rule all:
    """Every figure, table, the scorecard and the reproduction report."""
    default_target: True
    input:
        final_outputs(),
