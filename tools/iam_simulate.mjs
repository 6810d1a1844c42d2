// Evaluates IAM requests against policies with @cloud-copilot/iam-simulate (identity policies,
// permissions boundaries, resource policies, every condition operator), offline.
// stdin: a JSON list of simulations as iam-simulate takes them; stdout: a JSON list with, for
// each, "Allowed", "ImplicitlyDenied", "ExplicitlyDenied" or "error: <why>".
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const simulations = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const results = []
for (const simulation of simulations) {
  const result = await runSimulation(
    { serviceControlPolicies: [], resourceControlPolicies: [], ...simulation },
    {}
  )
  results.push(
    result.resultType === 'error' ? `error: ${JSON.stringify(result.errors)}` : result.overallResult
  )
}
process.stdout.write(JSON.stringify(results))
