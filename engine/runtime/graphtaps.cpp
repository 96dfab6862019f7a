#include "engine/runtime/graphtaps.h"

#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/library.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace pellucid::detail {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
namespace attr = c10::attr;
namespace prim = c10::prim;

struct Record {
    std::string path;
    std::string typeName;
    Value *value = nullptr;
};

constexpr const char *kInputSuffix = "#input";

bool isInputRecord(const std::string &path)
{
    const size_t n = std::char_traits<char>::length(kInputSuffix);
    return path.size() > n && path.compare(path.size() - n, n, kInputSuffix) == 0;
}

struct Inlined {
    std::shared_ptr<Graph> graph;
    std::vector<Record> records;   // every recorded module call, possibly several per path
};

bool isForwardName(const std::string &name)
{
    if (name.rfind("forward", 0) != 0) return false;
    // Tracing names repeated calls of one module forward1, forward2, ...; scripting names the overloads of
    // an @overload-ed forward forward__0, forward__1 (torchvision's _DenseLayer).
    auto digits = [](auto b, auto e) { return b != e && std::all_of(b, e, [](char c) { return c >= '0' && c <= '9'; }); };
    return name.size() == 7 || digits(name.begin() + 7, name.end()) || (name.compare(7, 2, "__") == 0 && digits(name.begin() + 9, name.end()));
}

/// Module path of `v` relative to `self`, following prim::GetAttr nodes; nullopt if not a plain chain.
std::optional<std::string> modulePath(Value *v, Value *self)
{
    std::vector<std::string> names;
    while (v != self) {
        Node *n = v->node();
        if (n->kind() != prim::GetAttr) return std::nullopt;
        names.push_back(n->s(attr::name));
        v = n->input(0);
    }
    std::string path;
    for (auto it = names.rbegin(); it != names.rend(); ++it) path += (path.empty() ? "" : ".") + *it;
    return path;
}

Node *findCall(Block *block, const std::set<Node *> &skip)
{
    for (Node *n : block->nodes()) {
        if ((n->kind() == prim::CallMethod || n->kind() == prim::CallFunction) && !skip.count(n)) return n;
        for (Block *b : n->blocks())
            if (Node *found = findCall(b, skip)) return found;
    }
    return nullptr;
}

Inlined inlineModuleCalls(const torch::jit::Module &module)
{
    Inlined result;
    result.graph = module.get_method("forward").graph()->copy();
    Graph &g = *result.graph;
    Value *self = g.inputs().at(0);
    std::set<Node *> skip;   // calls that cannot be inlined statically (interfaces, non-graph functions)
    while (Node *call = findCall(g.block(), skip)) {
        if (call->kind() == prim::CallFunction) {
            // Free functions (F.relu inside a scripted nn.ReLU, ...) are inlined too, so graph rewrites
            // reach the ops inside them; their outputs are never taps themselves.
            auto fnType = call->input(0)->type()->cast<c10::FunctionType>();
            torch::jit::GraphFunction *fn = fnType ? torch::jit::tryToGraphFunction(*fnType->function()) : nullptr;
            if (!fn) {
                skip.insert(call);
                continue;
            }
            std::vector<Value *> oldOutputs(call->outputs().begin(), call->outputs().end());
            call->removeInput(0);
            std::vector<Value *> newOutputs = torch::jit::inlineCallTo(call, fn, /*use_graph=*/true);
            for (auto &r : result.records)
                for (size_t i = 0; i < oldOutputs.size() && i < newOutputs.size(); ++i)
                    if (r.value == oldOutputs[i]) r.value = newOutputs[i];
            continue;
        }
        auto cls = call->input(0)->type()->cast<c10::ClassType>();
        const std::string method = call->s(attr::name);
        torch::jit::GraphFunction *fn = nullptr;
        if (cls) {
            if (auto *f = cls->findMethod(method)) fn = torch::jit::tryToGraphFunction(*f);
        }
        if (!fn) {
            skip.insert(call);
            continue;
        }
        const auto path = modulePath(call->input(0), self);
        Value *argument = call->inputs().size() > 1 ? call->input(1) : nullptr;
        std::vector<Value *> oldOutputs(call->outputs().begin(), call->outputs().end());
        std::vector<Value *> newOutputs = torch::jit::inlineCallTo(call, fn, /*use_graph=*/true);
        for (auto &r : result.records)
            for (size_t i = 0; i < oldOutputs.size() && i < newOutputs.size(); ++i)
                if (r.value == oldOutputs[i]) r.value = newOutputs[i];
        if (path && !path->empty() && isForwardName(method) && newOutputs.size() == 1) {
            result.records.push_back({*path, cls->name() ? cls->name()->name() : "Module", newOutputs[0]});
            // The call's first argument, tapped as "<path>#input" (not a module: never listed or replaced).
            if (argument && argument->type()->kind() == c10::TypeKind::TensorType)
                result.records.push_back({*path + kInputSuffix, "Input", argument});
        }
    }
    return result;
}

void numberNodes(Block *block, std::unordered_map<const Node *, int> &order)
{
    for (Node *n : block->nodes()) {
        order[n] = int(order.size());
        for (Block *b : n->blocks()) numberNodes(b, order);
    }
}

/// For each path, the record of its last call in program order.
std::map<std::string, std::pair<Record, int>> lastCalls(const Inlined &in)
{
    std::unordered_map<const Node *, int> order;
    numberNodes(in.graph->block(), order);
    std::map<std::string, std::pair<Record, int>> last;   // path -> (record, call count)
    std::map<std::string, int> position;
    for (const Record &r : in.records) {
        const auto it = order.find(r.value->node());
        const int pos = it == order.end() ? -1 : it->second;   // graph inputs come first
        auto &entry = last[r.path];
        entry.second += 1;
        if (entry.second == 1 || pos >= position[r.path]) {
            entry.first = r;
            position[r.path] = pos;
        }
    }
    return last;
}

void collectNodes(Block *block, std::vector<Node *> &out);

/// A tap must return the value its module produced. Where alias analysis shows that a node after the tapped
/// value's definition writes into its storage (torchvision's ReLU(inplace=True) after a BatchNorm, a
/// residual `out += identity`, dropout_), the graph's later uses get a copy made right after the definition
/// and the tap keeps the original: values stay intact, and gradients at the tap flow through the copy.
/// Values nobody writes into are left alone (no copy). Tap records pointing at a protected value are kept.
void protectFromLaterWrites(const std::shared_ptr<Graph> &graph, const std::vector<Value *> &values)
{
    std::vector<Value *> todo;
    {
        torch::jit::AliasDb db(graph);
        std::unordered_map<const Node *, int> order;
        numberNodes(graph->block(), order);
        std::vector<Node *> nodes;
        collectNodes(graph->block(), nodes);
        for (Value *v : values) {
            if (!v->type()->cast<c10::TensorType>() || std::find(todo.begin(), todo.end(), v) != todo.end()) continue;
            if (!db.hasWriters(v)) continue;
            const auto def = order.find(v->node());
            const int after = def == order.end() ? -1 : def->second;
            for (Node *n : nodes) {
                if (order[n] <= after) continue;
                if (db.writesToAlias(n, {v})) {
                    todo.push_back(v);
                    break;
                }
            }
        }
    }
    static const auto clone = c10::Symbol::fromQualString("aten::clone");
    for (Value *v : todo) {
        Node *copy = graph->create(clone, 1);
        if (v->node()->kind() == prim::Param)
            copy->insertBefore(v->node()->owningBlock()->nodes().front());
        else
            copy->insertAfter(v->node());
        copy->addInput(v);
        {
            torch::jit::WithInsertPoint guard(copy);
            copy->addInput(graph->insertConstant(c10::IValue()));   // memory_format
        }
        copy->output()->setType(v->type());
        v->replaceAllUsesAfterNodeWith(copy, copy->output());
    }
}

/// Carries `v` out of the if/loop blocks it is defined in, up to the graph's top block.
Value *liftToTop(Graph &g, Value *v)
{
    while (v->node()->owningBlock() != g.block()) {
        Block *block = v->node()->owningBlock();
        Node *owner = block->owningNode();
        const auto optType = c10::OptionalType::create(v->type());
        if (owner->kind() == prim::If) {
            for (Block *b : owner->blocks()) {
                if (b == block) {
                    b->registerOutput(v);
                } else {
                    torch::jit::WithInsertPoint guard(b->return_node());
                    b->registerOutput(g.insertConstant(c10::IValue()));
                }
            }
            v = owner->addOutput()->setType(optType);
        } else if (owner->kind() == prim::Loop) {
            Value *none = nullptr;
            {
                torch::jit::WithInsertPoint guard(owner);
                none = g.insertConstant(c10::IValue());
            }
            owner->addInput(none);
            block->addInput()->setType(optType);
            block->registerOutput(v);
            v = owner->addOutput()->setType(optType);
        } else {
            throw std::runtime_error("cannot tap a value inside a " + std::string(owner->kind().toQualString()) + " block");
        }
    }
    return v;
}

/// Replaces aten::relu / aten::relu_ by the given out-of-place op (keeping in-place semantics for later
/// users of the input), in every nested block. Tap records that pointed at a replaced value follow it.
size_t replaceRelus(Graph &g, Block *block, const char *op, std::vector<Record> &records)
{
    size_t replaced = 0;
    static const auto relu = c10::Symbol::fromQualString("aten::relu");
    static const auto reluInplace = c10::Symbol::fromQualString("aten::relu_");
    const auto symbol = c10::Symbol::fromQualString(op);
    for (auto it = block->nodes().begin(); it != block->nodes().end();) {
        Node *node = *it;
        ++it;
        for (Block *b : node->blocks()) replaced += replaceRelus(g, b, op, records);
        if (node->kind() != relu && node->kind() != reluInplace) continue;
        ++replaced;
        Value *in = node->input(0);
        Node *replacement = g.create(symbol, {in});
        replacement->insertBefore(node);
        replacement->output()->setType(node->output()->type());
        node->output()->replaceAllUsesWith(replacement->output());
        if (node->kind() == reluInplace) in->replaceAllUsesAfterNodeWith(replacement, replacement->output());
        for (auto &r : records)
            if (r.value == node->output()) r.value = replacement->output();
        node->destroy();
    }
    return replaced;
}

void collectNodes(Block *block, std::vector<Node *> &out)
{
    for (Node *n : block->nodes()) {
        out.push_back(n);
        for (Block *b : n->blocks()) collectNodes(b, out);
    }
}

bool feedsMatmul(Value *v)
{
    static const std::set<std::string> mm = {"aten::matmul", "aten::bmm", "aten::einsum", "aten::mm"};
    for (const auto &use : v->uses()) {
        const std::string k = use.user->kind().toQualString();
        if (mm.count(k)) return true;
        // A dropout (or a cast) between the softmax and the product, as hand-written attention often has.
        if ((k == "aten::dropout" || k == "aten::to" || k == "aten::type_as" || k == "aten::contiguous") && feedsMatmul(use.user->output(0)))
            return true;
        // Out of an if's branch (F.softmax as scripted: `if dtype is None: ret = input.softmax(dim)`): the
        // matching output of the if.
        Block *b = use.user->owningBlock();
        if (b && use.user == b->return_node() && b->owningNode() && b->owningNode()->kind() == prim::If
            && feedsMatmul(b->owningNode()->output(use.offset)))
            return true;
    }
    return false;
}

/// Replaces `node` by `op` with the same inputs (plus `extra` trailing defaults) and one more output (the
/// probabilities); the node's outputs are rewired to the replacement's leading outputs.
Value *replaceWithProbs(Graph &g, Node *node, const char *op, const std::vector<c10::IValue> &extra)
{
    std::vector<Value *> inputs(node->inputs().begin(), node->inputs().end());
    {
        torch::jit::WithInsertPoint guard(node);
        for (const auto &e : extra) inputs.push_back(g.insertConstant(e));
    }
    Node *rep = g.create(c10::Symbol::fromQualString(op), inputs, node->outputs().size() + 1);
    rep->insertBefore(node);
    for (size_t i = 0; i < node->outputs().size(); ++i) {
        rep->output(i)->setType(node->output(i)->type());
        node->output(i)->replaceAllUsesWith(rep->output(i));
    }
    Value *probs = rep->output(node->outputs().size());
    probs->setType(c10::TensorType::get());
    node->destroy();
    return probs;
}

bool holdsTensor(const c10::TypePtr &t)
{
    if (t->kind() == c10::TypeKind::TensorType) return true;
    for (const c10::TypePtr &c : t->containedTypes())
        if (holdsTensor(c)) return true;
    return false;
}

/// The graph inputs whose tensors flow into `v` (bit i: graph input i + 1, i.e. forward argument i): through
/// tensor-valued producers only (a shape read off a tensor is not its data), into if/loop blocks' results.
unsigned tensorInputsOf(Value *v, Graph &g, std::unordered_map<Value *, unsigned> &memo)
{
    if (const auto it = memo.find(v); it != memo.end()) return it->second;
    memo[v] = 0;   // cycles through loop-carried values end here
    unsigned bits = 0;
    Node *n = v->node();
    if (n == g.param_node()) {
        if (v->offset() > 0 && v->offset() <= 32) bits = 1u << (v->offset() - 1);
    } else if (n->kind() == prim::Param) {
        // A block's parameter: a loop's carried value (its initial value and what the body returns).
        if (Node *owner = n->owningBlock()->owningNode(); owner && owner->kind() == prim::Loop) {
            const size_t i = v->offset();   // 0: the iteration count
            if (i > 0 && i + 1 < owner->inputs().size() && holdsTensor(owner->input(i + 1)->type()))
                bits |= tensorInputsOf(owner->input(i + 1), g, memo);
        }
    } else {
        for (Value *in : n->inputs())
            if (holdsTensor(in->type())) bits |= tensorInputsOf(in, g, memo);
        for (Block *b : n->blocks())
            for (Value *r : b->return_node()->inputs())
                if (holdsTensor(r->type())) bits |= tensorInputsOf(r, g, memo);
    }
    memo[v] = bits;
    return bits;
}

/// The keys of a written-out attention: from the softmax's input back through scaling, masking and casts to
/// the product that made the scores; its second operand. Null when no product is found.
Value *softmaxKeys(Value *scores)
{
    static const std::set<std::string> through = {"aten::mul", "aten::div",     "aten::add",        "aten::sub",   "aten::masked_fill",
                                                  "aten::to",  "aten::type_as", "aten::contiguous", "aten::float", "aten::where"};
    Value *v = scores;
    for (int hop = 0; hop < 12 && v; ++hop) {
        Node *n = v->node();
        const std::string k = n->kind().toQualString();
        if (k == "aten::matmul" || k == "aten::bmm" || k == "aten::mm") return n->input(1);
        if (k == "aten::baddbmm") return n->input(2);
        if (k == "aten::einsum") {
            Node *list = n->input(1)->node();
            return list->kind() == prim::ListConstruct && list->inputs().size() >= 2 ? list->input(1) : nullptr;
        }
        if (!through.count(k)) return nullptr;
        if (k == "aten::where") {
            v = n->inputs().size() > 1 ? n->input(1) : nullptr;
            continue;
        }
        // The operand that is itself a product's result (scores · scale, mask + scores).
        Value *next = n->input(0);
        if (n->inputs().size() > 1 && holdsTensor(n->input(1)->type())) {
            const std::string k1 = n->input(1)->node()->kind().toQualString();
            if (k1 == "aten::matmul" || k1 == "aten::bmm" || k1 == "aten::baddbmm" || k1 == "aten::einsum") next = n->input(1);
        }
        v = next;
    }
    return nullptr;
}

}   // namespace

std::unique_ptr<AttentionForward> buildAttentionForward(const torch::jit::Module &module, bool editable)
{
    registerAttentionOps();
    Inlined in = inlineModuleCalls(module);
    Graph &g = *in.graph;
    std::vector<Node *> nodes;
    collectNodes(g.block(), nodes);
    auto out = std::make_unique<AttentionForward>();
    std::vector<Value *> probs;
    std::unordered_map<Value *, unsigned> memo;
    // (the memo is cleared per site: a rewrite frees values whose addresses new ones may take)
    auto keysOf = [&](Value *keys) {
        memo.clear();
        return keys ? tensorInputsOf(keys, g, memo) : 0u;
    };
    for (Node *n : nodes) {
        const std::string k = n->kind().toQualString();
        const int64_t site = int64_t(out->kinds.size());
        if (k == "aten::scaled_dot_product_attention") {
            // PyTorch 2.x: (q, k, v, attn_mask, dropout_p, is_causal[, scale[, enable_gqa]]).
            out->keyInputs.push_back(keysOf(n->input(1)));
            std::vector<c10::IValue> extra;
            if (n->inputs().size() < 7) extra.push_back(c10::IValue());
            if (n->inputs().size() < 8) extra.push_back(false);
            if (editable) extra.push_back(site);
            probs.push_back(replaceWithProbs(g, n, editable ? "pellucid::sdpa_probs_edit" : "pellucid::sdpa_probs", extra));
            out->kinds.push_back("sdpa");
        } else if (k == "aten::_native_multi_head_attention") {
            out->keyInputs.push_back(keysOf(n->input(1)));
            std::vector<c10::IValue> extra;
            if (n->inputs().size() < 13) extra.push_back(c10::IValue());   // mask_type
            if (editable) extra.push_back(site);
            probs.push_back(replaceWithProbs(g, n, editable ? "pellucid::mha_probs_edit" : "pellucid::mha_probs", extra));
            out->kinds.push_back("native_mha");
        } else if (k == "aten::_transformer_encoder_layer_fwd") {
            out->keyInputs.push_back(keysOf(n->input(0)));   // self-attention over src
            std::vector<c10::IValue> extra;
            if (n->inputs().size() < 20) extra.push_back(c10::IValue());   // mask_type
            probs.push_back(replaceWithProbs(g, n, "pellucid::encoder_layer_probs", extra));
            out->kinds.push_back("encoder_layer");
        } else if ((k == "aten::softmax" || k == "aten::_softmax") && feedsMatmul(n->output(0))) {
            out->keyInputs.push_back(keysOf(softmaxKeys(n->input(0))));
            Value *p = n->output(0);
            if (editable) {
                Node *edit = g.create(c10::Symbol::fromQualString("pellucid::attn_edit"), {p});
                edit->insertAfter(n);
                {
                    torch::jit::WithInsertPoint guard(edit);
                    edit->addInput(g.insertConstant(site));
                }
                edit->output()->setType(p->type());
                p->replaceAllUsesAfterNodeWith(edit, edit->output());
                p = edit->output();
            }
            probs.push_back(p);
            out->kinds.push_back("softmax");
        }
    }
    protectFromLaterWrites(in.graph, probs);
    std::vector<Value *> lifted;
    for (Value *v : probs) lifted.push_back(liftToTop(g, v));
    auto tf = std::make_unique<TappedForward>();
    std::vector<Value *> outs(g.outputs().begin(), g.outputs().end());
    tf->originalOutputs = outs.size();
    outs.insert(outs.end(), lifted.begin(), lifted.end());
    while (!g.outputs().empty()) g.eraseOutput(0);
    Node *tuple = g.createTuple(outs);
    tuple->insertBefore(g.return_node());
    g.registerOutput(tuple->output());
    tf->graph = in.graph;
    tf->function = std::make_unique<torch::jit::GraphFunction>(c10::QualifiedName("pellucid.attention_forward"), tf->graph, nullptr);
    out->forward = std::move(tf);
    return out;
}

std::unique_ptr<TappedForward> buildReplacedForward(const torch::jit::Module &module, const std::string &path, const std::string &cutAt)
{
    Inlined in = inlineModuleCalls(module);
    const auto last = lastCalls(in);
    Graph &g = *in.graph;
    const auto it = isInputRecord(path) ? last.end() : last.find(path);
    if (it == last.end()) throw std::runtime_error("forward never calls a module named '" + path + "'");
    Value *original = it->second.first.value;
    if (original->node()->owningBlock() != g.block())
        throw std::runtime_error("module '" + path + "' runs inside a branch or loop; its output cannot be replaced");
    Value *replacement = g.addInput("replacement")->setType(original->type());
    // Every use after the module's call reads the replacement instead.
    original->replaceAllUsesWith(replacement);
    auto tf = std::make_unique<TappedForward>();
    tf->paths = {path};
    std::vector<Value *> outs(g.outputs().begin(), g.outputs().end());
    if (!cutAt.empty()) {
        // The forward ends at the last call of cutAt: what only feeds the rest (a language model's head over
        // every position) is removed below.
        const auto cut = last.find(cutAt);
        if (cut == last.end()) throw std::runtime_error("forward never calls a module named '" + cutAt + "'");
        Value *v = cut->second.first.value;
        if (v->node()->owningBlock() != g.block())
            throw std::runtime_error("module '" + cutAt + "' runs inside a branch or loop; the forward cannot end there");
        outs = {v};
    }
    tf->originalOutputs = outs.size();
    outs.push_back(original);
    while (!g.outputs().empty()) g.eraseOutput(0);
    Node *tuple = g.createTuple(outs);
    tuple->insertBefore(g.return_node());
    g.registerOutput(tuple->output());
    if (!cutAt.empty()) torch::jit::EliminateDeadCode(in.graph);
    tf->graph = in.graph;
    tf->function = std::make_unique<torch::jit::GraphFunction>(c10::QualifiedName("pellucid.replaced_forward"), tf->graph, nullptr);
    return tf;
}

std::vector<ModuleCall> listModuleCalls(const torch::jit::Module &module)
{
    const Inlined in = inlineModuleCalls(module);
    std::unordered_map<const Node *, int> order;
    numberNodes(in.graph->block(), order);
    std::vector<std::pair<int, ModuleCall>> calls;
    for (const auto &[path, rc] : lastCalls(in)) {
        if (isInputRecord(path)) continue;
        const auto it = order.find(rc.first.value->node());
        calls.push_back({it == order.end() ? -1 : it->second, ModuleCall{path, rc.first.typeName, rc.second}});
    }
    std::stable_sort(calls.begin(), calls.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    std::vector<ModuleCall> out;
    for (auto &c : calls) out.push_back(std::move(c.second));
    return out;
}

std::unique_ptr<TappedForward> buildTappedForward(const torch::jit::Module &module, const std::vector<std::string> &paths, ReluMode relu)
{
    Inlined in = inlineModuleCalls(module);
    const auto last = lastCalls(in);
    Graph &g = *in.graph;
    size_t relus = 0;
    if (relu != ReluMode::Keep) {
        registerReluOps();
        relus = replaceRelus(g, g.block(), relu == ReluMode::Guided ? "pellucid::guided_relu" : "pellucid::deconv_relu", in.records);
    }

    // Every call of each tapped module, in program order: the one that ran last is the tap (a module called
    // in both branches of an if, as torchvision's MobileNetV2 blocks are when scripted, ran in one of them).
    std::unordered_map<const Node *, int> order;
    numberNodes(g.block(), order);
    std::vector<std::vector<Value *>> calls;
    std::vector<Value *> all;
    for (const std::string &p : paths) {
        if (last.find(p) == last.end()) throw std::runtime_error("forward never calls a module named '" + p + "'");
        std::vector<std::pair<int, Value *>> found;
        for (const Record &r : in.records)
            if (r.path == p) {
                const auto it = order.find(r.value->node());
                found.push_back({it == order.end() ? -1 : it->second, r.value});
            }
        std::stable_sort(found.begin(), found.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
        std::vector<Value *> values;
        for (const auto &f : found)
            if (std::find(values.begin(), values.end(), f.second) == values.end()) values.push_back(f.second);
        all.insert(all.end(), values.begin(), values.end());
        calls.push_back(std::move(values));
    }
    protectFromLaterWrites(in.graph, all);

    auto tf = std::make_unique<TappedForward>();
    tf->paths = paths;
    tf->relusReplaced = relus;
    std::vector<Value *> outs(g.outputs().begin(), g.outputs().end());
    tf->originalOutputs = outs.size();
    std::map<Value *, size_t> lifted;   // a value tapped for two paths is returned once
    for (const auto &values : calls) {
        std::vector<size_t> indices;
        for (Value *v : values) {
            auto it = lifted.find(v);
            if (it == lifted.end()) {
                outs.push_back(liftToTop(g, v));
                it = lifted.emplace(v, outs.size() - 1).first;
            }
            indices.push_back(it->second);
        }
        tf->candidates.push_back(std::move(indices));
        tf->noOutput.push_back(std::all_of(values.begin(), values.end(), [](Value *v) { return v->type()->kind() == c10::TypeKind::NoneType; }));
    }
    while (!g.outputs().empty()) g.eraseOutput(0);
    Node *tuple = g.createTuple(outs);
    tuple->insertBefore(g.return_node());
    g.registerOutput(tuple->output());

    tf->graph = in.graph;
    tf->function = std::make_unique<torch::jit::GraphFunction>(c10::QualifiedName("pellucid.tapped_forward"), tf->graph, nullptr);
    return tf;
}

std::vector<c10::IValue> TappedForward::run(const torch::jit::Module &module, std::vector<c10::IValue> inputs) const
{
    torch::jit::Stack stack;
    stack.reserve(inputs.size() + 1);
    stack.emplace_back(module._ivalue());
    for (auto &v : inputs) stack.push_back(std::move(v));
    function->run(stack);
    auto elements = stack.back().toTupleRef().elements();
    if (candidates.empty()) return std::vector<c10::IValue>(elements.begin(), elements.end());
    std::vector<c10::IValue> out(elements.begin(), elements.begin() + long(originalOutputs));
    for (const auto &indices : candidates) {
        c10::IValue chosen;   // None when no call ran
        for (size_t i : indices)
            if (!elements[i].isNone()) chosen = elements[i];
        out.push_back(std::move(chosen));
    }
    return out;
}

}   // namespace pellucid::detail

namespace pellucid::detail {
namespace {

class GuidedReluFn : public torch::autograd::Function<GuidedReluFn> {
public:
    static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x)
    {
        at::Tensor y = at::relu(x);
        ctx->save_for_backward({y});
        return y;
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx, torch::autograd::variable_list g)
    {
        const at::Tensor y = ctx->get_saved_variables()[0];
        return {at::threshold_backward(g[0].clamp_min(0), y, 0)};   // positive gradient, positive input
    }
};

class DeconvReluFn : public torch::autograd::Function<DeconvReluFn> {
public:
    static at::Tensor forward(torch::autograd::AutogradContext *, const at::Tensor &x) { return at::relu(x); }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext *, torch::autograd::variable_list g)
    {
        return {g[0].clamp_min(0)};
    }
};

at::Tensor guidedRelu(const at::Tensor &x) { return GuidedReluFn::apply(x); }
at::Tensor deconvRelu(const at::Tensor &x) { return DeconvReluFn::apply(x); }

}   // namespace

TORCH_LIBRARY(pellucid, m)
{
    m.def("guided_relu(Tensor self) -> Tensor");
    m.def("deconv_relu(Tensor self) -> Tensor");
    m.impl("guided_relu", c10::DispatchKey::CompositeImplicitAutograd, TORCH_FN(guidedRelu));
    m.impl("deconv_relu", c10::DispatchKey::CompositeImplicitAutograd, TORCH_FN(deconvRelu));
}

void registerReluOps() { }   // the registration above runs at load; referencing this keeps the object linked

}   // namespace pellucid::detail
