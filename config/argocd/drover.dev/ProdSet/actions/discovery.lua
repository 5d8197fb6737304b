-- Argo CD actions of a drover.dev ProdSet: the rollout commands, each enabled when drover
-- would act on it now, as kubectl drover rollout decides (internal/cli/rollout.go,
-- checkCommand). Not seen from here: whether the RolloutPolicy exists (until the
-- RolledOut condition says PolicyNotFound) and when its rollbackWindow ends.
local enabled = {}
local st = obj.status
local ro = nil
if type(st) == "table" then
  ro = st.rollout
end
local ok = type(obj.spec) == "table" and obj.spec.rolloutPolicyRef ~= nil and type(ro) == "table"
if ok and type(st.conditions) == "table" then
  for _, c in ipairs(st.conditions) do
    if type(c) == "table" and c.type == "RolledOut" and
        (c.reason == "PolicyNotFound" or c.reason == "PolicyInvalid" or c.reason == "PolicyUnsupported") then
      ok = false
    end
  end
end
-- A command drover has not read yet would be replaced.
if ok and type(obj.metadata) == "table" and type(obj.metadata.annotations) == "table" then
  local pending = obj.metadata.annotations["drover.dev/rollout-command"]
  if pending ~= nil and pending ~= "" and pending ~= st.observedRolloutCommand then
    ok = false
  end
end
-- The template changed: the new revision's rollout starts at the next reconcile.
if ok and st.currentRevision ~= nil and st.currentRevision ~= "" and ro.revision ~= st.currentRevision then
  ok = false
end
if ok then
  local active = ro.phase == "Progressing" or ro.phase == "Paused"
  enabled.pause = ro.phase == "Progressing"
  enabled.resume = ro.phase == "Paused"
  enabled.promote = active and ro.promoted ~= true
  enabled.abort = active
  enabled.rollback = active
  -- A succeeded Replace rollout keeps its originals warm for its rollbackWindow.
  if ro.phase == "Succeeded" and ro.finishedTime ~= nil and type(ro.prods) == "table" then
    for _, p in ipairs(ro.prods) do
      if type(p) == "table" and type(p.replacement) == "string" and p.replacement ~= "" then
        enabled.rollback = true
      end
    end
  end
end
local actions = {}
for _, name in ipairs({"promote", "pause", "resume", "abort", "rollback"}) do
  actions[name] = {disabled = enabled[name] ~= true}
end
return actions
