#pragma once
// The model's layers as a tree (module paths split at dots) with op, output shape and parameters,
// and a filter box.
#include "engine/runtime/model.h"

#include <QWidget>

class QLineEdit;
class QTreeWidget;
class QTreeWidgetItem;

namespace pellucid {

class LayerTree : public QWidget {
    Q_OBJECT
public:
    explicit LayerTree(QWidget *parent = nullptr);
    void setModel(const ModelSummary &summary);
    void clear();
    void selectLayer(const QString &path);
    QString selectedLayer() const;
    void setFilter(const QString &text);
    int visibleLayerCount() const;
    QTreeWidget *tree() const { return mTree; }

signals:
    void layerSelected(const QString &path);

private:
    void applyFilter();
    QLineEdit *mFilter;
    QTreeWidget *mTree;
};

}   // namespace pellucid
